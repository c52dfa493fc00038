package engine

// skey addresses one entry of sequence state: for a positive stage s, the
// partial match that has completed stage s; for a missing stage, the last
// event seen that matched it; for a sample stage, the event that filled it.
type skey struct {
	rule  uint32
	stage uint16
	key   uint64
}

// partial is one pending partial match (or missing-event mark). It holds
// references, never event bodies.
type partial struct {
	start    int64 // event time of the first matched event
	last     ord   // order of the last matched event
	startSeq uint64
	refs     []uint64
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
	e     *Engine
	m     map[skey]partial
	fifos []fifo
	dirty map[gkey]struct{}
	undo  map[gkey][]byte
	track bool
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
	if _, exists := s.m[k]; !exists && len(s.m) >= s.e.p.opts.MaxStates {
		s.evictOne()
	}
	s.m[k] = p
	if newEntry {
		s.fifos[r.index].push(fifoEntry{key: key, startSeq: p.startSeq, start: p.start})
	}
}

func (s *state) del(r *Rule, st int, key uint64) {
	s.touch(r, key)
	delete(s.m, skey{uint32(r.index), uint16(st), key})
}

// popFront removes the state entries created by the fifo's front entry; when
// decide is set, trailing missing-event partials are emitted as matches.
func (s *state) popFront(r *Rule, decide bool) (removed int) {
	f := &s.fifos[r.index]
	fe := *f.front()
	f.pop()
	for st := range r.stages {
		k := skey{uint32(r.index), uint16(st), fe.key}
		p, ok := s.m[k]
		if !ok || p.startSeq != fe.startSeq {
			continue
		}
		if decide && r.Kind == SequenceRule && r.hasTrailing && st == r.lastPos {
			s.e.emit(r, fe.key, p, true)
		}
		s.del(r, st, fe.key)
		removed++
	}
	return removed
}

// expire drops state older than maxspan before wm.
func (s *state) expire(wm int64) {
	for _, r := range s.e.p.rules {
		if r.Kind == EventRule {
			continue
		}
		f := &s.fifos[r.index]
		span := int64(r.MaxSpan)
		for f.len() > 0 && wm-f.front().start > span {
			s.e.stats.Expired += uint64(s.popFront(r, true))
		}
	}
}

func (s *state) evictOne() {
	var oldest *Rule
	var ots int64
	for _, r := range s.e.p.rules {
		f := &s.fifos[r.index]
		if f.len() > 0 && (oldest == nil || f.front().start < ots) {
			oldest, ots = r, f.front().start
		}
	}
	if oldest != nil {
		s.e.stats.Evicted += uint64(s.popFront(oldest, false))
	}
}

func (e *Engine) emit(r *Rule, key uint64, p partial, trailing bool) {
	refs := append([]uint64(nil), p.refs...)
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

func (e *Engine) newRefs(r *Rule) []uint64 {
	refs := make([]uint64, len(r.stages))
	for i, st := range r.stages {
		if st.missing {
			refs[i] = MissingRef
		}
	}
	return refs
}

func (e *Engine) sequenceHit(r *Rule, idx int, key uint64, h *hit) {
	s := e.st
	span := int64(r.MaxSpan)
	if idx == r.firstPos {
		// Leading missing stages: no missing event within maxspan before.
		for m := 0; m < idx; m++ {
			if mk, ok := s.m[skey{uint32(r.index), uint16(m), key}]; ok && h.o.ts-mk.last.ts <= span && mk.last.less(h.o) {
				return
			}
		}
		p := partial{start: h.o.ts, last: h.o, startSeq: h.o.seq, refs: e.newRefs(r)}
		p.refs[idx] = h.ref
		if idx == r.lastPos && !r.hasTrailing {
			e.emit(r, key, p, false)
			return
		}
		if old, ok := s.m[skey{uint32(r.index), uint16(idx), key}]; ok && h.o.less(old.last) {
			return // a late event does not replace a newer candidate
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
	for m := prev + 1; m < idx; m++ {
		if mk, ok := s.m[skey{uint32(r.index), uint16(m), key}]; ok && p.last.less(mk.last) && mk.last.less(h.o) {
			s.del(r, prev, key)
			return
		}
	}
	s.del(r, prev, key)
	p.refs = append([]uint64(nil), p.refs...)
	p.refs[idx] = h.ref
	p.last = h.o
	if idx == r.lastPos && !r.hasTrailing {
		e.emit(r, key, p, false)
		return
	}
	s.put(r, idx, key, p, false)
}

func (e *Engine) missingHit(r *Rule, idx int, key uint64, h *hit) {
	s := e.st
	k := skey{uint32(r.index), uint16(idx), key}
	if old, ok := s.m[k]; ok && h.o.less(old.last) {
		return
	}
	// A trailing missing event inside the window cancels a pending match.
	if idx > r.lastPos {
		lk := skey{uint32(r.index), uint16(r.lastPos), key}
		if p, ok := s.m[lk]; ok && p.last.less(h.o) && h.o.ts-p.start <= int64(r.MaxSpan) {
			s.del(r, r.lastPos, key)
		}
	}
	s.put(r, idx, key, partial{start: h.o.ts, last: h.o, startSeq: h.o.seq}, true)
}

func (e *Engine) until(r *Rule, key uint64) {
	s := e.st
	for st := 0; st < len(r.stages); st++ {
		if r.stages[st].missing {
			continue
		}
		if st == r.lastPos && r.hasTrailing {
			continue
		}
		k := skey{uint32(r.index), uint16(st), key}
		if _, ok := s.m[k]; ok {
			s.del(r, st, key)
		}
	}
}

// sample fills the stages of a per-key sample; when all are filled by
// distinct events the sample matches and the key starts over.
func (e *Engine) sample(r *Rule, idx int, key uint64, h *hit) {
	s := e.st
	k := skey{uint32(r.index), uint16(idx), key}
	if _, ok := s.m[k]; ok {
		return
	}
	for st := range r.stages {
		if st == idx {
			continue
		}
		if p, ok := s.m[skey{uint32(r.index), uint16(st), key}]; ok && p.refs[0] == h.ref && p.last == h.o {
			return // one event fills one stage
		}
	}
	s.put(r, idx, key, partial{start: h.o.ts, last: h.o, startSeq: h.o.seq, refs: []uint64{h.ref}}, true)
	refs := make([]uint64, len(r.stages))
	var last ord
	for st := range r.stages {
		p, ok := s.m[skey{uint32(r.index), uint16(st), key}]
		if !ok {
			return
		}
		refs[st] = p.refs[0]
		if last.less(p.last) {
			last = p.last
		}
	}
	for st := range r.stages {
		s.del(r, st, key)
	}
	e.out = append(e.out, Match{Rule: r, Refs: refs, Timestamp: last.ts, Key: key})
	e.stats.Matches++
}
