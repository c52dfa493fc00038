// Package partition holds the per-partition state of the pipeline: one rule
// engine per assigned input partition, the bodies of events that live
// partial matches refer to, and the encoding of that state as records of the
// compacted state topic (one record per rule and join key, one per open
// alert-suppression window, plus a meta record with the next input offset
// and the idle flushes so far), so state commits
// in the same Kafka transaction as alerts and offsets, and the one wall-clock
// decision (an idle flush) is recorded where an offline replay can read it.
package partition

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/suppress"
)

// metaVersion is the version of the meta record's envelope written now.
// Version 1: [1][next u64][engine meta]. Version 2 adds the idle flush
// record: [2][next u64][flushes u64][last flush u64][engine meta]. Version 3
// adds the rule-set revision (see rules.go): [3][next u64][flushes u64]
// [last flush u64][rules from u64][revision length u8][revision][engine meta].
const metaVersion = 3

// ErrOffsetMismatch means the state topic's meta record does not describe
// the committed input offset: state and offsets disagree.
var ErrOffsetMismatch = errors.New("state does not match the committed input offset")

// TP names an input partition.
type TP struct {
	Topic     string
	Partition int32
}

func (tp TP) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// Processor is the state of one input partition.
type Processor struct {
	TP     TP
	Engine *engine.Engine
	Bodies *rules.EventStore
	// Suppress holds the partition's open alert-suppression windows
	// (package rules/suppress); they commit and roll back with the engine.
	Suppress *suppress.State
	// Next is the next input offset to process (committed offsets after a
	// commit; advanced as records are processed within a transaction).
	Next int64
	// LastEvent is the wall-clock time the partition last received an
	// event (for idle flushing).
	LastEvent time.Time
	// Flushes counts the idle flushes in the partition's history;
	// LastFlush is Next at the latest one (-1: none). Both go into the meta
	// record, so the committed history of meta records lists every flush
	// point (see FlushHistory).
	Flushes   uint64
	LastFlush int64
	// Revision is the rule-set revision the partition runs (rules.go);
	// RulesFrom is Next when it took effect here.
	Revision  string
	RulesFrom int64
	// drops are tombstones of state records whose rule changed or was
	// deleted, and manifestDirty says the rules record must be written:
	// both go into the next committed transaction (rules.go).
	drops         []StateRecord
	manifestDirty bool
	revisionDirty bool // the revision changed and is not committed yet
	// exclBase is Engine.ExcludedCounts at Begin (see ExcludedInTxn).
	exclBase []engine.ExclusionCount
	// begun is set while a transaction touches the partition.
	begun     bool
	committed int64
	// the flush record as of the last commit (restored on abort)
	committedFlushes   uint64
	committedLastFlush int64
}

// New returns a processor with empty state starting at offset next.
func New(tp TP, set *rules.RuleSet, next int64) *Processor {
	return &Processor{TP: tp, Engine: set.Program.NewEngine(), Bodies: rules.NewEventStore(), Suppress: suppress.New(set), Next: next, committed: next,
		LastFlush: -1, committedLastFlush: -1, Revision: set.Revision, RulesFrom: next, manifestDirty: true}
}

// ResetCommitted makes Next the committed position (after restoring state
// whose offset is not checked).
func (p *Processor) ResetCommitted() { p.committed = p.Next }

// Begin marks the start of a transaction touching this partition.
func (p *Processor) Begin() {
	if p.begun {
		return
	}
	p.begun = true
	p.Engine.Begin()
	p.Suppress.Begin()
	p.exclBase = p.Engine.ExcludedCounts()
}

// Begun reports whether the current transaction touched the partition.
func (p *Processor) Begun() bool { return p.begun }

// Committed makes the transaction's changes permanent.
func (p *Processor) Committed() {
	if !p.begun {
		return
	}
	p.Engine.Commit()
	p.Suppress.Commit()
	p.committed = p.Next
	p.committedFlushes, p.committedLastFlush = p.Flushes, p.LastFlush
	p.drops, p.manifestDirty, p.revisionDirty = nil, false, false
	p.begun = false
}

// Aborted rolls the engine back to the last committed state; the records
// are consumed again from the committed offset.
func (p *Processor) Aborted() error {
	if !p.begun {
		return nil
	}
	p.begun = false
	p.Next = p.committed
	p.Flushes, p.LastFlush = p.committedFlushes, p.committedLastFlush
	p.Suppress.Rollback()
	return p.Engine.Rollback()
}

// ExcludedInTxn returns, per rule and exception list, the events excluded
// since Begin (for metrics: call it before Committed; an aborted
// transaction's exclusions are never reported, its replay's are).
func (p *Processor) ExcludedInTxn() []engine.ExclusionCount {
	now := p.Engine.ExcludedCounts()
	if len(now) != len(p.exclBase) {
		return nil
	}
	out := now[:0:0]
	for i, x := range now {
		if d := x.Events - p.exclBase[i].Events; d > 0 {
			x.Events = d
			out = append(out, x)
		}
	}
	return out
}

// KeyPrefix is the state-record key prefix of a partition.
func KeyPrefix(tp TP) string { return tp.Topic + "/" + strconv.Itoa(int(tp.Partition)) + "/" }

// MetaKey is the key of the partition's meta record.
func MetaKey(tp TP) []byte { return []byte(KeyPrefix(tp) + "meta") }

// DeltaKey is the key of one (rule, join key) state record.
func DeltaKey(tp TP, ruleID string, key uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], key)
	return []byte(KeyPrefix(tp) + "r/" + ruleID + "/" + hex.EncodeToString(k[:]))
}

// StateRecord is a key and value for the state topic (nil value: tombstone).
type StateRecord struct {
	Key, Value []byte
}

// PendingState returns the state records of the current transaction: the
// changed groups, then the meta record holding the next offset.
func (p *Processor) PendingState() []StateRecord {
	deltas, meta := p.Engine.Pending()
	out := make([]StateRecord, 0, len(p.drops)+len(deltas)+2)
	out = append(out, p.drops...) // before the deltas: a kept group's delta wins
	if p.manifestDirty {
		out = append(out, StateRecord{Key: RulesKey(p.TP), Value: encodeManifest(p.Revision, p.Engine.Program())})
	}
	for _, d := range deltas {
		out = append(out, StateRecord{Key: DeltaKey(p.TP, d.RuleID, d.Key), Value: d.Value})
	}
	for _, r := range p.Suppress.Pending() {
		out = append(out, StateRecord{Key: []byte(KeyPrefix(p.TP) + r.Key), Value: r.Value})
	}
	v := make([]byte, 0, len(meta)+25)
	v = append(v, metaVersion)
	v = binary.BigEndian.AppendUint64(v, uint64(p.Next))
	v = binary.BigEndian.AppendUint64(v, p.Flushes)
	v = binary.BigEndian.AppendUint64(v, uint64(p.LastFlush))
	v = binary.BigEndian.AppendUint64(v, uint64(p.RulesFrom))
	v = append(v, byte(len(p.Revision)))
	v = append(v, p.Revision...)
	v = append(v, meta...)
	out = append(out, StateRecord{Key: MetaKey(p.TP), Value: v})
	return out
}

// Restorer rebuilds a partition's state from state-topic records read in
// offset order.
type Restorer struct {
	tp     TP
	prefix []byte
	meta   []byte
	rules  []byte
	groups map[string][]byte
}

// NewRestorer starts restoring tp.
func NewRestorer(tp TP) *Restorer {
	return &Restorer{tp: tp, prefix: []byte(KeyPrefix(tp)), groups: map[string][]byte{}}
}

// Add applies one state-topic record; records of other partitions are ignored.
func (r *Restorer) Add(key, value []byte) {
	if !bytes.HasPrefix(key, r.prefix) {
		return
	}
	rest := string(key[len(r.prefix):])
	if rest == "meta" {
		r.meta = append([]byte(nil), value...)
		return
	}
	if rest == rulesKeySuffix {
		r.rules = append([]byte(nil), value...)
		return
	}
	if value == nil {
		delete(r.groups, rest)
		return
	}
	r.groups[rest] = append([]byte(nil), value...)
}

// Build returns a processor with the restored state. committed is the
// group's committed offset for the partition (-1 when none); the meta
// record must agree with it.
func (r *Restorer) Build(set *rules.RuleSet, committed int64) (*Processor, error) {
	start := committed
	if start < 0 {
		start = 0
	}
	p := New(r.tp, set, start)
	if r.meta == nil {
		if committed > 0 {
			return nil, fmt.Errorf("%w: %s has committed offset %d but no state", ErrOffsetMismatch, r.tp, committed)
		}
		return p, nil
	}
	m, err := DecodeMeta(r.meta)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.tp, err)
	}
	next := m.Next
	if committed >= 0 && next != committed {
		return nil, fmt.Errorf("%w: %s state is at offset %d, committed offset is %d", ErrOffsetMismatch, r.tp, next, committed)
	}
	p.Flushes, p.LastFlush = m.Flushes, m.LastFlush
	p.committedFlushes, p.committedLastFlush = m.Flushes, m.LastFlush
	keep, err := r.applyMeta(p, set, m, next)
	if err != nil {
		return nil, err
	}
	p.Engine.Grow(len(r.groups))
	for k, v := range r.groups {
		if strings.HasPrefix(k, suppress.KeyPrefix) {
			stale, err := p.Suppress.Restore(k, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.tp, err)
			}
			if stale { // its rule changed or is gone: delete the record
				p.drops = append(p.drops, StateRecord{Key: []byte(KeyPrefix(r.tp) + k)})
			}
			continue
		}
		// k is "r/<rule id>/<16 hex digits>"
		if !strings.HasPrefix(k, "r/") || len(k) < 2+1+16 {
			continue
		}
		ruleID := k[2 : len(k)-17]
		var kb [8]byte
		if _, err := hex.Decode(kb[:], []byte(k[len(k)-16:])); err != nil {
			return nil, fmt.Errorf("%s: bad state key %q", r.tp, k)
		}
		if !keep(ruleID) {
			p.drops = append(p.drops, StateRecord{Key: []byte(KeyPrefix(r.tp) + k)})
			continue
		}
		if err := p.Engine.ApplyDelta(engine.Delta{RuleID: ruleID, Key: binary.BigEndian.Uint64(kb[:]), Value: v}); err != nil {
			return nil, fmt.Errorf("%s: %w", r.tp, err)
		}
	}
	sort.Slice(p.drops, func(i, j int) bool { return bytes.Compare(p.drops[i].Key, p.drops[j].Key) < 0 })
	p.Engine.Rebuild()
	p.Next, p.committed = next, next
	return p, nil
}
