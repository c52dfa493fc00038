package partition

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// Rule-set changes. A partition runs one revision of the rule set at a
// time; its meta record (version 3) names the revision and the input offset
// from which the partition ran it, and the rules record (key
// "<topic>/<partition>/rules") lists the rules of that revision by ID and
// fingerprint, in the engine's rule order. Both commit with the state, so
// a restore under another revision knows which restored groups still
// belong to a rule with the same state machine.
//
// State across a change (Processor.Migrate, and Build when the committed
// revision is not the current one): a rule whose fingerprint is unchanged
// keeps its partial matches, buffered stage hits and open alert-suppression
// windows; a changed rule starts empty and a deleted rule is gone, and the
// state records of both — groups and windows — are deleted (tombstones) in
// the transaction that commits the change: no state record outlives its
// rule. The fingerprint covers the suppression settings, so a rule whose
// alert_suppression changed is a changed rule. Windows closed by a change
// write no summary (see suppress.State.Migrate for why).

const rulesKeySuffix = "rules"

// RulesKey is the key of a partition's rules record.
func RulesKey(tp TP) []byte { return []byte(KeyPrefix(tp) + rulesKeySuffix) }

// RevisionPoint is a rule-set change in a partition's history: from input
// offset From on, the partition ran Revision; Flushes idle flushes of the
// history came before the change (one at offset From may come after).
type RevisionPoint struct {
	From     int64
	Revision string
	Flushes  uint64
}

// Manifest is a decoded rules record.
type Manifest struct {
	Revision string
	Hash     uint64 // the program's Hash
	Layout   []engine.RuleStamp
}

const manifestVersion = 1

func encodeManifest(revision string, p *engine.Program) []byte {
	b := []byte{manifestVersion}
	b = binary.AppendUvarint(b, uint64(len(revision)))
	b = append(b, revision...)
	b = binary.BigEndian.AppendUint64(b, p.Hash())
	l := p.Layout()
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = binary.AppendUvarint(b, uint64(len(s.ID)))
		b = append(b, s.ID...)
		b = binary.BigEndian.AppendUint64(b, s.Fingerprint)
	}
	return b
}

var errManifest = errors.New("corrupt rules record")

// DecodeManifest decodes a rules record.
func DecodeManifest(b []byte) (Manifest, error) {
	var m Manifest
	if len(b) < 1 || b[0] != manifestVersion {
		return m, errManifest
	}
	b = b[1:]
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	rev, ok := str()
	if !ok || len(b) < 8 {
		return m, errManifest
	}
	m.Revision, m.Hash = rev, binary.BigEndian.Uint64(b)
	b = b[8:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return m, errManifest
	}
	b = b[k:]
	for i := uint64(0); i < n; i++ {
		id, ok := str()
		if !ok || len(b) < 8 {
			return m, errManifest
		}
		m.Layout = append(m.Layout, engine.RuleStamp{ID: id, Fingerprint: binary.BigEndian.Uint64(b)})
		b = b[8:]
	}
	return m, nil
}

// Migrate switches the partition to set between transactions (no
// transaction may touch it): see engine.Engine.Migrate. The tombstones of
// dropped state and the new rules record go into the next committed
// transaction; until then NeedsCommit is true.
func (p *Processor) Migrate(set *rules.RuleSet) {
	if p.begun {
		panic("partition: Migrate inside a transaction")
	}
	ne, dropped := p.Engine.Migrate(set.Program)
	p.Engine = ne
	for _, d := range dropped {
		p.drops = append(p.drops, StateRecord{Key: DeltaKey(p.TP, d.RuleID, d.Key)})
	}
	ns, closed := p.Suppress.Migrate(set)
	p.Suppress = ns
	for _, r := range closed {
		p.drops = append(p.drops, StateRecord{Key: []byte(KeyPrefix(p.TP) + r.Key)})
	}
	if set.Revision != p.Revision || len(dropped) > 0 || len(closed) > 0 {
		p.Revision, p.RulesFrom, p.revisionDirty = set.Revision, p.Next, true
	}
	p.manifestDirty = true
}

// NeedsCommit reports whether a rule-set change waits for a transaction:
// state to delete or a new revision to record. (A new partition's first
// rules record goes with its first transaction.)
func (p *Processor) NeedsCommit() bool { return p.revisionDirty || len(p.drops) > 0 }

// applyMeta restores the engine's meta record for set and returns which
// rule IDs' groups to restore (the others are dropped).
func (r *Restorer) applyMeta(p *Processor, set *rules.RuleSet, m Meta, next int64) (keep func(string) bool, err error) {
	var man *Manifest
	if r.rules != nil {
		mm, err := DecodeManifest(r.rules)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.tp, err)
		}
		man = &mm
	}
	p.Revision, p.RulesFrom = m.Revision, m.RulesFrom
	p.manifestDirty = man == nil
	err = p.Engine.ApplyMeta(m.Engine)
	if err == nil {
		if p.Revision != set.Revision {
			p.Revision, p.RulesFrom, p.manifestDirty, p.revisionDirty = set.Revision, next, true, true
		}
		prog := set.Program
		return func(id string) bool { return prog.RuleByID(id) != nil }, nil
	}
	if !errors.Is(err, engine.ErrStateMismatch) {
		return nil, fmt.Errorf("%s: %w", r.tp, err)
	}
	if man == nil {
		return nil, fmt.Errorf("%s: %w (rules changed and the state has no rules record: reset the group or use a new state topic)", r.tp, err)
	}
	p.Engine = set.Program.NewEngine()
	if err := p.Engine.ApplyMetaFrom(m.Engine, man.Layout, man.Hash); err != nil {
		return nil, fmt.Errorf("%s: %w", r.tp, err)
	}
	kept := map[string]bool{}
	for _, s := range man.Layout {
		if cur := set.Program.RuleByID(s.ID); cur != nil && cur.Fingerprint == s.Fingerprint {
			kept[s.ID] = true
		}
	}
	p.Revision, p.RulesFrom, p.manifestDirty, p.revisionDirty = set.Revision, next, true, true
	return func(id string) bool { return kept[id] }, nil
}
