package engine

import (
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// State format version, bumped on any incompatible change.
const stateVersion = 1

// ErrStateMismatch is returned when persisted state was written by another
// rule set or format version.
var ErrStateMismatch = errors.New("state was written by a different rule set or format version")

// Delta is the new content of one (rule, join key) group of sequence state;
// Value nil is a tombstone.
type Delta struct {
	RuleID string
	Key    uint64
	Value  []byte
}

func putUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func putVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated state record")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated state record")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("truncated state record")
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func appendPartial(b []byte, p *partial, refs []uint64) []byte {
	b = putVarint(b, p.start)
	b = putVarint(b, p.last.ts)
	b = putVarint(b, p.last.tb)
	b = putUvarint(b, p.last.seq)
	b = putUvarint(b, p.startSeq)
	b = putUvarint(b, uint64(len(refs)))
	for _, r := range refs {
		b = putUvarint(b, r)
	}
	return b
}

// partial reads a partial; its refs are appended to refs[:0].
func (r *reader) partial(refs []uint64) (partial, []uint64) {
	var p partial
	p.start = r.varint()
	p.last.ts = r.varint()
	p.last.tb = r.varint()
	p.last.seq = r.uvarint()
	p.startSeq = r.uvarint()
	n := r.uvarint()
	refs = refs[:0]
	if n > 1<<16 {
		r.err = errors.New("corrupt state record")
		return p, refs
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		refs = append(refs, r.uvarint())
	}
	return p, refs
}

// encodeGroup encodes all state entries of (rule, key); nil when empty.
func (s *state) encodeGroup(dst []byte, r *Rule, key uint64) []byte {
	var out []byte
	for st := 0; st < r.slots(); st++ {
		p, ok := s.m[skey{uint32(r.index), uint16(st), key}]
		if !ok {
			continue
		}
		if out == nil {
			out = append(dst, stateVersion)
		}
		out = putUvarint(out, uint64(st))
		out = appendPartial(out, &p, s.refs(&p))
	}
	return out
}

func (s *state) decodeGroup(r *Rule, key uint64, b []byte) error {
	for st := 0; st < r.slots(); st++ {
		k := skey{uint32(r.index), uint16(st), key}
		if p, ok := s.m[k]; ok {
			s.release(&p)
			delete(s.m, k)
		}
	}
	if len(b) == 0 {
		return nil
	}
	if b[0] != stateVersion {
		return ErrStateMismatch
	}
	rd := &reader{b: b[1:]}
	for len(rd.b) > 0 && rd.err == nil {
		st := rd.uvarint()
		var p partial
		p, s.scratch = rd.partial(s.scratch)
		if rd.err != nil {
			break
		}
		if st >= uint64(r.slots()) {
			return fmt.Errorf("state for rule %s names stage %d of %d", r.ID, st, len(r.stages))
		}
		k := skey{uint32(r.index), uint16(st), key}
		if old, ok := s.m[k]; ok { // a record naming a slot twice
			s.release(&old)
		}
		s.alloc(&p, len(s.scratch))
		copy(s.refs(&p), s.scratch)
		s.m[k] = p
	}
	return rd.err
}

// Begin starts a unit of work (a transaction): changes from here on can be
// undone by Rollback and are returned by Commit.
func (e *Engine) Begin() {
	s := e.st
	clear(s.dirty)
	clear(s.undo)
	s.track = true
	s.metaUndo = e.encodeMeta(nil)
}

// Commit ends the unit of work and returns the changed groups and the meta
// record (watermark, order counters, reorder buffer).
func (e *Engine) Commit() (deltas []Delta, meta []byte) {
	deltas, meta = e.Pending()
	s := e.st
	clear(s.dirty)
	clear(s.undo)
	s.track = false
	s.metaUndo = nil
	return deltas, meta
}

// Pending returns the changes since Begin without ending the unit of work:
// the groups changed (in a deterministic order) and the meta record.
func (e *Engine) Pending() (deltas []Delta, meta []byte) {
	s := e.st
	gs := make([]gkey, 0, len(s.dirty))
	for g := range s.dirty {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool {
		if gs[i].rule != gs[j].rule {
			return gs[i].rule < gs[j].rule
		}
		return gs[i].key < gs[j].key
	})
	for _, g := range gs {
		r := e.p.rules[g.rule]
		deltas = append(deltas, Delta{RuleID: r.ID, Key: g.key, Value: s.encodeGroup(nil, r, g.key)})
	}
	return deltas, e.encodeMeta(nil)
}

// Rollback undoes every change since Begin, as if the events since then had
// never been processed.
func (e *Engine) Rollback() error {
	s := e.st
	if !s.track {
		return nil
	}
	for g, old := range s.undo {
		if err := s.decodeGroup(e.p.rules[g.rule], g.key, old); err != nil {
			return err
		}
	}
	clear(s.dirty)
	clear(s.undo)
	s.track = false
	if err := e.decodeMeta(s.metaUndo); err != nil {
		return err
	}
	s.metaUndo = nil
	e.rebuildFifos()
	return nil
}

func (e *Engine) encodeMeta(b []byte) []byte {
	b = append(b, stateVersion)
	b = binary.BigEndian.AppendUint64(b, e.p.hash)
	b = putUvarint(b, e.seq)
	b = putVarint(b, e.maxTs)
	b = putVarint(b, e.wm)
	if e.started {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	st := &e.stats
	for _, v := range []uint64{st.Events, st.Matches, st.Late, st.Evicted, st.Expired, st.KeysFannedOut} {
		b = putUvarint(b, v)
	}
	hits := append(hitHeap(nil), e.buf...)
	sort.Slice(hits, func(i, j int) bool { return hits[i].o.less(hits[j].o) })
	b = putUvarint(b, uint64(len(hits)))
	for _, h := range hits {
		b = putVarint(b, h.o.ts)
		b = putVarint(b, h.o.tb)
		b = putUvarint(b, h.o.seq)
		b = putUvarint(b, h.ref)
		b = putUvarint(b, uint64(len(h.items)))
		for _, it := range h.items {
			b = putUvarint(b, uint64(it.st.rule.index))
			b = putVarint(b, int64(it.st.idx))
			b = putUvarint(b, uint64(len(it.keys)))
			for _, k := range it.keys {
				b = binary.BigEndian.AppendUint64(b, k)
			}
		}
	}
	return b
}

func (e *Engine) decodeMeta(b []byte) error {
	if len(b) < 9 || b[0] != stateVersion || binary.BigEndian.Uint64(b[1:9]) != e.p.hash {
		return ErrStateMismatch
	}
	return e.decodeMetaMapped(b, func(ri uint64, si int64) (*stage, bool, error) {
		if ri >= uint64(len(e.p.rules)) {
			return nil, false, errors.New("corrupt meta record")
		}
		rule := e.p.rules[ri]
		var st *stage
		if si < 0 {
			st = rule.until
		} else if si < int64(len(rule.stages)) {
			st = rule.stages[si]
		}
		if st == nil {
			return nil, false, errors.New("corrupt meta record")
		}
		return st, false, nil
	})
}

// decodeMetaMapped decodes a meta record whose hash was checked; stageOf
// resolves a buffered hit's (rule index, stage index), or says to skip it.
func (e *Engine) decodeMetaMapped(b []byte, stageOf func(ri uint64, si int64) (st *stage, skip bool, err error)) error {
	r := &reader{b: b[9:]}
	seq := r.uvarint()
	maxTs := r.varint()
	wm := r.varint()
	var started bool
	if len(r.b) > 0 {
		started = r.b[0] == 1
		r.b = r.b[1:]
	}
	var counters [6]uint64
	for i := range counters {
		counters[i] = r.uvarint()
	}
	n := r.uvarint()
	if n > uint64(len(b)) {
		return errors.New("corrupt meta record")
	}
	hits := make(hitHeap, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		h := &hit{}
		h.o.ts = r.varint()
		h.o.tb = r.varint()
		h.o.seq = r.uvarint()
		h.ref = r.uvarint()
		ni := r.uvarint()
		if ni > uint64(len(b)) {
			return errors.New("corrupt meta record")
		}
		for j := uint64(0); j < ni && r.err == nil; j++ {
			ri := r.uvarint()
			si := r.varint()
			nk := r.uvarint()
			if nk > 64 || uint64(len(r.b)) < nk*8 {
				return errors.New("corrupt meta record")
			}
			st, skip, err := stageOf(ri, si)
			if err != nil {
				return err
			}
			keys := make([]uint64, nk)
			for k := range keys {
				keys[k] = binary.BigEndian.Uint64(r.b)
				r.b = r.b[8:]
			}
			if !skip {
				h.items = append(h.items, hitItem{st: st, keys: keys})
			}
		}
		if len(h.items) > 0 || ni == 0 {
			hits = append(hits, h)
		}
	}
	if r.err != nil {
		return r.err
	}
	e.seq, e.maxTs, e.wm, e.started = seq, maxTs, wm, started
	e.stats.Events, e.stats.Matches, e.stats.Late, e.stats.Evicted, e.stats.Expired, e.stats.KeysFannedOut =
		counters[0], counters[1], counters[2], counters[3], counters[4], counters[5]
	e.buf = hits
	heap.Init(&e.buf)
	return nil
}

// Snapshot encodes the engine's whole state.
func (e *Engine) Snapshot() []byte {
	b := e.encodeMeta(nil)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	out = append(out, b...)
	groups := map[gkey]struct{}{}
	for k := range e.st.m {
		groups[gkey{k.rule, k.key}] = struct{}{}
	}
	gs := make([]gkey, 0, len(groups))
	for g := range groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool {
		if gs[i].rule != gs[j].rule {
			return gs[i].rule < gs[j].rule
		}
		return gs[i].key < gs[j].key
	})
	for _, g := range gs {
		rec := e.st.encodeGroup(nil, e.p.rules[g.rule], g.key)
		out = putUvarint(out, uint64(g.rule))
		out = binary.BigEndian.AppendUint64(out, g.key)
		out = putUvarint(out, uint64(len(rec)))
		out = append(out, rec...)
	}
	return out
}

// Restore replaces the engine's state with a Snapshot.
func (e *Engine) Restore(b []byte) error {
	if len(b) < 4 {
		return errors.New("truncated snapshot")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return errors.New("truncated snapshot")
	}
	e.Reset()
	if err := e.decodeMeta(b[4 : 4+n]); err != nil {
		return err
	}
	r := &reader{b: b[4+n:]}
	for len(r.b) > 0 && r.err == nil {
		ri := r.uvarint()
		if r.err != nil || ri >= uint64(len(e.p.rules)) || len(r.b) < 8 {
			return errors.New("corrupt snapshot")
		}
		key := binary.BigEndian.Uint64(r.b)
		r.b = r.b[8:]
		rec := r.bytes()
		if r.err != nil {
			break
		}
		if err := e.st.decodeGroup(e.p.rules[ri], key, rec); err != nil {
			return err
		}
	}
	if r.err != nil {
		return r.err
	}
	e.rebuildFifos()
	return nil
}

// Reset clears all state.
func (e *Engine) Reset() {
	e.st = newState(e)
	e.buf = nil
	e.seq, e.started = 0, false
	e.maxTs, e.wm = math.MinInt64, math.MinInt64
	e.stats = Stats{}
}

// RuleByID finds a compiled rule.
func (p *Program) RuleByID(id string) *Rule {
	for _, r := range p.rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// ApplyDelta restores one group from a state changelog record.
func (e *Engine) ApplyDelta(d Delta) error {
	if e.rulesByID == nil {
		e.rulesByID = make(map[string]*Rule, len(e.p.rules))
		for _, r := range e.p.rules {
			if _, dup := e.rulesByID[r.ID]; !dup { // the first, as RuleByID
				e.rulesByID[r.ID] = r
			}
		}
	}
	r := e.rulesByID[d.RuleID]
	if r == nil {
		return fmt.Errorf("%w: unknown rule %q", ErrStateMismatch, d.RuleID)
	}
	return e.st.decodeGroup(r, d.Key, d.Value)
}

// Grow makes room for about n more state entries (before restoring n
// groups), so that the state map does not grow step by step.
func (e *Engine) Grow(n int) {
	s := e.st
	if len(s.m) > 0 || n <= 0 {
		return
	}
	s.m = make(map[skey]partial, n)
}

// ApplyMeta restores the meta record; call Rebuild after the last delta.
func (e *Engine) ApplyMeta(meta []byte) error { return e.decodeMeta(meta) }

// Rebuild rebuilds the expiry queues after ApplyDelta calls.
func (e *Engine) Rebuild() { e.rebuildFifos() }

func (e *Engine) rebuildFifos() {
	s := e.st
	for i := range s.fifos {
		s.fifos[i] = fifo{}
	}
	type ent struct {
		rule uint32
		fifoEntry
	}
	all := make([]ent, 0, len(s.m))
	for k, p := range s.m {
		all = append(all, ent{k.rule, fifoEntry{key: k.key, startSeq: p.startSeq, start: p.start}})
	}
	// The entries of one partial's stages are equal: sorted, they are
	// adjacent, and the queue holds one of them.
	slices.SortFunc(all, func(a, b ent) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.startSeq, b.startSeq),
			cmp.Compare(a.rule, b.rule), cmp.Compare(a.key, b.key))
	})
	for i, x := range all {
		if i > 0 && x == all[i-1] {
			continue
		}
		s.fifos[x.rule].push(x.fifoEntry)
	}
}

// MinLiveRef returns the smallest event reference that live state or the
// reorder buffer still holds (math.MaxUint64 when none): event bodies kept
// for alerts can be dropped below it.
func (e *Engine) MinLiveRef() uint64 {
	min := uint64(math.MaxUint64)
	// The arena holds the refs of every live partial; released blocks
	// hold unfilledRef.
	for _, r := range e.st.arena {
		// missing-event slots hold MissingRef or an event time, and
		// stages not reached hold unfilledRef: neither is a reference
		// below a real one (event times are far above any offset)
		if r < unfilledRef && r < min {
			min = r
		}
	}
	for _, h := range e.buf {
		if h.ref < min {
			min = h.ref
		}
	}
	return min
}

// MetaStats reads the counters, watermark and reorder-buffer size from an
// encoded meta record (as Commit and Pending return it) without a program:
// for tools that compare committed state with an offline replay. It does not
// check which rule set wrote the record.
func MetaStats(meta []byte) (Stats, error) {
	var s Stats
	if len(meta) < 9 || meta[0] != stateVersion {
		return s, ErrStateMismatch
	}
	r := &reader{b: meta[9:]}
	r.uvarint() // seq
	r.varint()  // newest timestamp
	s.Watermark = r.varint()
	if len(r.b) == 0 {
		return s, errors.New("corrupt meta record")
	}
	r.b = r.b[1:] // started
	for _, p := range []*uint64{&s.Events, &s.Matches, &s.Late, &s.Evicted, &s.Expired, &s.KeysFannedOut} {
		*p = r.uvarint()
	}
	n := r.uvarint()
	if r.err != nil {
		return s, r.err
	}
	if n > uint64(len(meta)) {
		return s, errors.New("corrupt meta record")
	}
	s.Buffered = int(n)
	return s, nil
}
