package engine

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/cespare/xxhash/v2"
)

// ruleFingerprint hashes what a rule's state machine depends on.
func ruleFingerprint(d RuleDef, r *Rule, opts Options) uint64 {
	h := xxhash.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00", d.ID, d.Source.Text, r.MaxSpan)
	hashExclusions(h, d.Exclusions)
	if d.Variant != "" { // absent: fingerprints as before variants existed
		fmt.Fprintf(h, "v%s\x00", d.Variant)
	}
	fmt.Fprintf(h, "%s\x00%s\x00%s", opts.TimestampField, opts.TiebreakerField, opts.CategoryField)
	return h.Sum64()
}

// RuleStamp names a compiled rule by ID and fingerprint: the layout of the
// program that wrote a state, in rule index order.
type RuleStamp struct {
	ID          string
	Fingerprint uint64
}

// Layout returns the program's rules as stamps, in index order.
func (p *Program) Layout() []RuleStamp {
	out := make([]RuleStamp, len(p.rules))
	for i, r := range p.rules {
		out[i] = RuleStamp{r.ID, r.Fingerprint}
	}
	return out
}

// mapping maps the rules of a layout to the rules of p with the same ID
// and fingerprint (nil: the rule is gone or changed).
func (p *Program) mapping(from []RuleStamp) []*Rule {
	by := make(map[string]*Rule, len(p.rules))
	for _, r := range p.rules {
		by[r.ID] = r
	}
	out := make([]*Rule, len(from))
	for i, s := range from {
		if r := by[s.ID]; r != nil && r.Fingerprint == s.Fingerprint {
			out[i] = r
		}
	}
	return out
}

// Migrate returns an engine for p that continues e at a rule-set change:
// the order counters, watermark, statistics and the reorder buffer carry
// over, and so does the state of every rule of e whose ID and fingerprint
// are in p. The state of rules that changed or are gone is dropped; dropped
// lists their groups as tombstones (sorted by rule ID, then key). Rules new
// in p start empty; buffered stage hits of dropped rules are dropped. Call
// it between units of work (e has no Begin pending); e is not modified.
func (e *Engine) Migrate(p *Program) (ne *Engine, dropped []Delta) {
	m := p.mapping(e.p.Layout())
	ne = p.NewEngine()
	ne.seq, ne.maxTs, ne.wm, ne.started = e.seq, e.maxTs, e.wm, e.started
	ne.stats = e.stats
	ne.stats.Excluded = 0
	gone := map[gkey]struct{}{}
	for k, v := range e.st.m {
		to := m[k.rule]
		if to == nil {
			gone[gkey{k.rule, k.key}] = struct{}{}
			continue
		}
		// the refs move from e's arena into ne's
		refs := e.st.refs(&v)
		np := v
		ne.st.alloc(&np, len(refs))
		copy(ne.st.refs(&np), refs)
		ne.st.m[skey{uint32(to.index), k.stage, k.key}] = np
	}
	for g := range gone {
		dropped = append(dropped, Delta{RuleID: e.p.rules[g.rule].ID, Key: g.key})
	}
	sortDeltas(dropped)
	for _, h := range e.buf {
		nh := &hit{o: h.o, ref: h.ref}
		for _, it := range h.items {
			to := m[it.st.rule.index]
			if to == nil {
				continue
			}
			st := to.until
			if it.st.idx >= 0 {
				st = to.stages[it.st.idx]
			}
			nh.items = append(nh.items, hitItem{st: st, keys: append([]uint64(nil), it.keys...)})
		}
		if len(nh.items) > 0 {
			ne.buf = append(ne.buf, nh)
		}
	}
	heap.Init(&ne.buf)
	ne.rebuildFifos()
	return ne, dropped
}

func sortDeltas(ds []Delta) {
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].RuleID != ds[j].RuleID {
			return ds[i].RuleID < ds[j].RuleID
		}
		return ds[i].Key < ds[j].Key
	})
}

// ErrLayoutMismatch means a meta record was not written by the layout it
// is restored with.
var ErrLayoutMismatch = errors.New("meta record does not match the rule layout given for it")

// ApplyMetaFrom restores a meta record written by a program with layout
// from (whose Hash was hash) into an engine of another program: the meta
// record is read with from's rule indexes, and buffered stage hits of rules
// that changed or are gone are dropped, as Migrate does. Restore the groups
// of the rules that carry over with ApplyDelta, then call Rebuild.
func (e *Engine) ApplyMetaFrom(meta []byte, from []RuleStamp, hash uint64) error {
	if len(meta) < 9 || meta[0] != stateVersion || binary.BigEndian.Uint64(meta[1:9]) != hash {
		return ErrLayoutMismatch
	}
	m := e.p.mapping(from)
	return e.decodeMetaMapped(meta, func(i uint64, si int64) (*stage, bool, error) {
		if i >= uint64(len(m)) {
			return nil, false, errors.New("corrupt meta record")
		}
		r := m[i]
		if r == nil {
			return nil, true, nil
		}
		if si < 0 {
			return r.until, false, nil
		}
		if si >= int64(len(r.stages)) {
			return nil, false, errors.New("corrupt meta record")
		}
		return r.stages[si], false, nil
	})
}
