package engine

import "math"

// skey addresses one entry of sequence state: for a positive stage s, the
// partial match that has completed stage s; for a missing stage, the last
// event seen that matched it; for a sample stage, the event that filled it.
type skey struct {
	rule  uint32
	stage uint16
	key   uint64
}

// partial is one pending partial match (or missing-event mark). It holds
// references, never event bodies: its refs are the block
// arena[ro:ro+rn] of the state's arena (state.refs), so the state map holds
// no pointers and the garbage collector does not scan it.
type partial struct {
	start    int64 // event time of the first matched event
	last     ord   // order of the last matched event
	startSeq uint64
	ro, rn   uint32
}

type fifoEntry struct {
	key      uint64
	startSeq uint64
	start    int64
}

// fifo is a per-rule queue of state entries in creation order, which is
// event-time order: expiry and eviction pop from its front.
type fifo struct {
	q    []fifoEntry
	head int
}

func (f *fifo) push(x fifoEntry) { f.q = append(f.q, x) }
func (f *fifo) len() int         { return len(f.q) - f.head }
func (f *fifo) front() *fifoEntry {
	return &f.q[f.head]
}
func (f *fifo) pop() {
	f.head++
	if f.head > 1024 && f.head*2 > len(f.q) {
		n := copy(f.q, f.q[f.head:])
		f.q = f.q[:n]
		f.head = 0
	}
}

type state struct {
	e *Engine
	m map[skey]partial
	// arena holds the refs of every partial in the map; free lists the
	// released blocks by length. A released block is filled with
	// unfilledRef, so a scan of the arena finds the live references.
	arena []uint64
	free  [][]uint32
	// carved counts the blocks of each size cut from the arena: a free
	// list's capacity is kept at least that (see alloc).
	carved []int
	// scratch is decodeGroup's buffer for refs.
	scratch []uint64
	fifos   []fifo
	dirty   map[gkey]struct{}
	undo    map[gkey][]byte
	track   bool
	// metaUndo is the meta record at Begin.
	metaUndo []byte
}

type gkey struct {
	rule uint32
	key  uint64
}

func newState(e *Engine) *state {
	return &state{e: e, m: map[skey]partial{}, fifos: make([]fifo, len(e.p.rules)),
		dirty: map[gkey]struct{}{}, undo: map[gkey][]byte{}}
}

// refs returns the refs of p: valid until the next alloc.
func (s *state) refs(p *partial) []uint64 {
	return s.arena[p.ro : p.ro+p.rn : p.ro+p.rn]
}

// alloc gives p a block of n refs (their values are unspecified).
func (s *state) alloc(p *partial, n int) {
	p.rn = uint32(n)
	for len(s.free) <= n {
		s.free = append(s.free, nil)
		s.carved = append(s.carved, 0)
	}
	if l := s.free[n]; len(l) > 0 {
		p.ro = l[len(l)-1]
		s.free[n] = l[:len(l)-1]
		return
	}
	p.ro = uint32(len(s.arena))
	s.arena = append(s.arena, make([]uint64, n)...)
	// The block may be released on an event that matches nothing (expiry,
	// eviction): its size's free list gets room for it now, on the
	// matching path, so release never allocates.
	s.carved[n]++
	if c := s.carved[n]; cap(s.free[n]) < c {
		l := make([]uint32, len(s.free[n]), 2*c)
		copy(l, s.free[n])
		s.free[n] = l
	}
}

// release returns p's refs to the free lists.
func (s *state) release(p *partial) {
	if p.rn == 0 {
		return
	}
	refs := s.refs(p)
	for i := range refs {
		refs[i] = unfilledRef
	}
	for len(s.free) <= int(p.rn) {
		s.free = append(s.free, nil)
	}
	s.free[p.rn] = append(s.free[p.rn], p.ro)
}

// touch records that group (rule, key) is about to change.
func (s *state) touch(r *Rule, key uint64) {
	if !s.track {
		return
	}
	g := gkey{uint32(r.index), key}
	if _, ok := s.dirty[g]; ok {
		return
	}
	s.dirty[g] = struct{}{}
	s.undo[g] = s.encodeGroup(nil, r, key)
}

func (s *state) put(r *Rule, st int, key uint64, p partial, newEntry bool) {
	s.touch(r, key)
	k := skey{uint32(r.index), uint16(st), key}
	if old, exists := s.m[k]; exists {
		s.release(&old)
	} else if len(s.m) >= s.e.p.opts.MaxStates {
		s.evictOne()
	}
	s.m[k] = p
	if newEntry {
		s.fifos[r.index].push(fifoEntry{key: key, startSeq: p.startSeq, start: p.start})
	}
}

// del removes an entry and releases its refs.
func (s *state) del(r *Rule, st int, key uint64) {
	s.touch(r, key)
	k := skey{uint32(r.index), uint16(st), key}
	if p, ok := s.m[k]; ok {
		s.release(&p)
		delete(s.m, k)
	}
}

// unlink removes an entry whose refs move on with its partial.
func (s *state) unlink(r *Rule, st int, key uint64) {
	s.touch(r, key)
	delete(s.m, skey{uint32(r.index), uint16(st), key})
}

// popFront removes the state entries created by the fifo's front entry; when
// decide is set, trailing missing-event partials are emitted as matches.
func (s *state) popFront(r *Rule, decide bool) (removed int) {
	f := &s.fifos[r.index]
	fe := *f.front()
	f.pop()
	for st := 0; st < r.slots(); st++ {
		k := skey{uint32(r.index), uint16(st), fe.key}
		p, ok := s.m[k]
		if !ok || p.startSeq != fe.startSeq {
			continue
		}
		if decide && r.Kind == SequenceRule && st >= len(r.stages) {
			// a trailing missing-event window has closed without a
			// cancelling event: the match stands
			s.e.emit(r, fe.key, p, true)
		}
		s.del(r, st, fe.key)
		removed++
	}
	return removed
}

// trailSlots bounds the completed candidates per key that wait for their
// trailing missing-event window to close.
const trailSlots = 16

// slots is the number of state slots per (rule, key): one per stage, then
// the trailing candidates.
func (r *Rule) slots() int {
	if r.Kind == SampleRule {
		return len(r.stages) * len(r.stages)
	}
	if r.hasTrailing {
		return len(r.stages) + trailSlots
	}
	return len(r.stages)
}

// msOf truncates Unix nanoseconds to milliseconds: Elasticsearch compares
// the timestamps of missing-event windows at millisecond precision.
func msOf(ts int64) int64 {
	q := ts / 1e6
	if ts%1e6 < 0 {
		q--
	}
	return q
}

// expire drops state older than maxspan before wm.
func (s *state) expire(wm int64) {
	for _, r := range s.e.p.stateful {
		f := &s.fifos[r.index]
		if f.len() == 0 {
			continue
		}
		span := int64(r.MaxSpan)
		for f.len() > 0 && wm-f.front().start > span {
			s.e.stats.Expired += uint64(s.popFront(r, true))
		}
	}
}

func (s *state) evictOne() {
	for {
		var oldest *Rule
		var ots int64
		for _, r := range s.e.p.stateful {
			f := &s.fifos[r.index]
			if f.len() > 0 && (oldest == nil || f.front().start < ots) {
				oldest, ots = r, f.front().start
			}
		}
		if oldest == nil {
			return
		}
		// a stale queue entry (its partial moved on or was replaced)
		// removes nothing: keep going until something is evicted
		if n := s.popFront(oldest, false); n > 0 {
			s.e.stats.Evicted += uint64(n)
			return
		}
	}
}

// emit appends a match of partial p (its refs are copied).
func (e *Engine) emit(r *Rule, key uint64, p partial, trailing bool) {
	refs := append([]uint64(nil), e.st.refs(&p)...)
	for i, st := range r.stages {
		if st.missing {
			refs[i] = MissingRef
		}
	}
	e.out = append(e.out, Match{Rule: r, Refs: refs, Timestamp: p.last.ts, Key: key})
	e.stats.Matches++
}

// apply runs one stage hit, in event-time order, through the state machines.
func (e *Engine) apply(h *hit) {
	s := e.st
	for _, it := range h.items {
		st := it.st
		r := st.rule
		for _, key := range it.keys {
			switch {
			case st.idx < 0:
				e.until(r, key)
			case r.Kind == SampleRule:
				e.sample(r, st.idx, key, h)
			case st.missing:
				e.missingHit(r, st.idx, key, h)
			default:
				e.sequenceHit(r, st.idx, key, h)
			}
		}
	}
	_ = s
}

// newPartial returns a partial started by h with refs for every stage of r.
func (e *Engine) newPartial(r *Rule, h *hit) partial {
	p := partial{start: h.o.ts, last: h.o, startSeq: h.o.seq}
	e.st.alloc(&p, len(r.stages))
	refs := e.st.refs(&p)
	for i, st := range r.stages {
		if st.missing {
			refs[i] = MissingRef
		} else {
			refs[i] = unfilledRef
		}
	}
	return p
}

// unfilledRef marks a positive stage a partial match has not reached yet.
// It must not read as an event reference: MinLiveRef would take it for the
// oldest live event, and no event body would ever be released.
const unfilledRef = MissingRef - 1

// latestBefore returns the timestamp of the latest missing-stage event of
// (rule, stage, key) strictly before ts (at millisecond precision).
func (e *Engine) latestBefore(r *Rule, stage int, key uint64, ts int64) (int64, bool) {
	mk, ok := e.st.m[skey{uint32(r.index), uint16(stage), key}]
	if !ok {
		return 0, false
	}
	if msOf(mk.last.ts) < msOf(ts) {
		return mk.last.ts, true
	}
	if mk.rn > 0 {
		if r0 := e.st.refs(&mk)[0]; r0 != MissingRef && msOf(int64(r0)) < msOf(ts) {
			return int64(r0), true
		}
	}
	return 0, false
}

func (e *Engine) sequenceHit(r *Rule, idx int, key uint64, h *hit) {
	s := e.st
	span := int64(r.MaxSpan)
	if idx == r.firstPos {
		if old, ok := s.m[skey{uint32(r.index), uint16(idx), key}]; ok && h.o.less(old.last) {
			return // a late event does not replace a newer candidate
		}
		p := e.newPartial(r, h)
		s.refs(&p)[idx] = h.ref
		// Leading missing stages: remember the latest such event before
		// this one; it is judged when the sequence completes. The slot of
		// the first leading stage holds it (MissingRef: none).
		if idx > 0 {
			lead, found := int64(0), false
			for m := 0; m < idx; m++ {
				if ts, ok := e.latestBefore(r, m, key, h.o.ts); ok && (!found || ts > lead) {
					lead, found = ts, true
				}
			}
			if found {
				s.refs(&p)[0] = uint64(lead)
			}
		}
		if idx == r.lastPos {
			e.complete(r, key, p)
			return
		}
		s.put(r, idx, key, p, true)
		return
	}
	prev := idx - 1
	for prev >= 0 && r.stages[prev].missing {
		prev--
	}
	pk := skey{uint32(r.index), uint16(prev), key}
	p, ok := s.m[pk]
	if !ok || !p.last.less(h.o) {
		return
	}
	if h.o.ts-p.start > span {
		return
	}
	// Middle missing stages: no such event strictly between the neighbours.
	for m := prev + 1; m < idx; m++ {
		if ts, ok := e.latestBefore(r, m, key, h.o.ts); ok && msOf(ts) > msOf(p.last.ts) {
			s.del(r, prev, key)
			return
		}
	}
	s.unlink(r, prev, key) // the undo log holds an encoded copy
	s.refs(&p)[idx] = h.ref
	p.last = h.o
	if idx == r.lastPos {
		e.complete(r, key, p)
		return
	}
	s.put(r, idx, key, p, false)
}

// leadHit reports whether a completed candidate of r has a leading missing
// event within maxspan of its last event.
func (s *state) leadHit(r *Rule, p *partial) (int64, bool) {
	if r.firstPos == 0 || s.refs(p)[0] == MissingRef {
		return 0, false
	}
	lead := int64(s.refs(p)[0])
	return lead, msOf(p.last.ts)-msOf(lead) <= msOf(int64(r.MaxSpan))
}

// complete handles a candidate whose positive stages are all matched; p is
// not in the map, and its refs are released or stored with it.
func (e *Engine) complete(r *Rule, key uint64, p partial) {
	_, lead := e.st.leadHit(r, &p)
	if !r.hasTrailing {
		if !lead {
			e.emit(r, key, p, false)
		}
		e.st.release(&p)
		return
	}
	// Wait for the trailing window (last, first+maxspan] to close.
	s := e.st
	free := -1
	for i := 0; i < trailSlots; i++ {
		if _, ok := s.m[skey{uint32(r.index), uint16(len(r.stages) + i), key}]; !ok {
			free = i
			break
		}
	}
	if free < 0 {
		// bound reached: decide the oldest candidate now
		oldest, ots := 0, int64(math.MaxInt64)
		for i := 0; i < trailSlots; i++ {
			c := s.m[skey{uint32(r.index), uint16(len(r.stages) + i), key}]
			if c.start < ots {
				oldest, ots = i, c.start
			}
		}
		c := s.m[skey{uint32(r.index), uint16(len(r.stages) + oldest), key}]
		e.emit(r, key, c, true)
		s.del(r, len(r.stages)+oldest, key)
		free = oldest
	}
	p.startSeq = p.last.seq // a queue entry of its own
	s.put(r, len(r.stages)+free, key, p, true)
}

func (e *Engine) missingHit(r *Rule, idx int, key uint64, h *hit) {
	s := e.st
	k := skey{uint32(r.index), uint16(idx), key}
	old, had := s.m[k]
	if had && h.o.less(old.last) {
		return
	}
	// A trailing missing event inside a candidate's window cancels it
	// (with leading stages too: only when the leading event is within
	// maxspan of it).
	if idx > r.lastPos {
		span := msOf(int64(r.MaxSpan))
		for i := 0; i < trailSlots; i++ {
			ck := skey{uint32(r.index), uint16(len(r.stages) + i), key}
			c, ok := s.m[ck]
			if !ok || msOf(h.o.ts) <= msOf(c.last.ts) || msOf(h.o.ts)-msOf(c.start) > span {
				continue
			}
			if r.firstPos > 0 {
				lead, hit := s.leadHit(r, &c)
				if !hit || msOf(h.o.ts)-msOf(lead) > span {
					continue
				}
			}
			s.del(r, len(r.stages)+i, key)
		}
	}
	// Keep the latest event and the latest one with a smaller timestamp.
	prev := uint64(MissingRef)
	if had {
		prev = s.refs(&old)[0]
		if msOf(old.last.ts) < msOf(h.o.ts) {
			prev = uint64(old.last.ts)
		}
	}
	mark := partial{start: h.o.ts, last: h.o, startSeq: h.o.seq}
	s.alloc(&mark, 1)
	s.refs(&mark)[0] = prev
	s.put(r, idx, key, mark, true)
}

func (e *Engine) until(r *Rule, key uint64) {
	s := e.st
	for st := 0; st < len(r.stages); st++ {
		if r.stages[st].missing {
			continue
		}
		k := skey{uint32(r.index), uint16(st), key}
		if _, ok := s.m[k]; ok {
			s.del(r, st, key)
		}
	}
}

// sample keeps, per key and stage, up to len(stages) candidate events (enough
// to find distinct events for every stage) and matches as soon as a
// backtracking search finds one distinct event per stage, as
// Elasticsearch's SampleIterator does; the key then starts over.
func (e *Engine) sample(r *Rule, idx int, key uint64, h *hit) {
	s := e.st
	n := len(r.stages)
	slot := -1
	for j := 0; j < n; j++ {
		p, ok := s.m[skey{uint32(r.index), uint16(idx*n + j), key}]
		if !ok {
			slot = idx*n + j
			break
		}
		if p.last == h.o {
			return
		}
	}
	if slot < 0 {
		return // enough candidates for this stage
	}
	p := partial{start: h.o.ts, last: h.o, startSeq: h.o.seq}
	s.alloc(&p, 1)
	s.refs(&p)[0] = h.ref
	s.put(r, slot, key, p, true)
	cands := make([][]partial, n)
	for st := 0; st < n; st++ {
		for j := 0; j < n; j++ {
			if p, ok := s.m[skey{uint32(r.index), uint16(st*n + j), key}]; ok {
				cands[st] = append(cands[st], p)
			}
		}
		if len(cands[st]) == 0 {
			return
		}
	}
	chosen := make([]partial, n)
	var search func(st int) bool
	search = func(st int) bool {
		if st == n {
			return true
		}
		for _, c := range cands[st] {
			dup := false
			for _, prev := range chosen[:st] {
				if prev.last == c.last {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			chosen[st] = c
			if search(st + 1) {
				return true
			}
		}
		return false
	}
	if !search(0) {
		return
	}
	refs := make([]uint64, n)
	var last ord
	for st, c := range chosen {
		refs[st] = s.refs(&c)[0]
		if last.less(c.last) {
			last = c.last
		}
	}
	for st := 0; st < r.slots(); st++ {
		if _, ok := s.m[skey{uint32(r.index), uint16(st), key}]; ok {
			s.del(r, st, key)
		}
	}
	e.out = append(e.out, Match{Rule: r, Refs: refs, Timestamp: last.ts, Key: key})
	e.stats.Matches++
}
