package engine

import (
	"container/heap"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// MissingRef marks a missing-event stage in Match.Refs.
const MissingRef = math.MaxUint64

// Match is one rule match. Refs are the caller's references of the matched
// events (e.g. Kafka offsets) in stage order.
type Match struct {
	Rule      *Rule
	Refs      []uint64
	Timestamp int64  // event time of the last matched event
	Key       uint64 // join key hash (0 for event rules)
}

// Stats are an engine's counters.
type Stats struct {
	Events        uint64
	Matches       uint64
	Late          uint64 // events older than the watermark when they arrived
	Evicted       uint64 // partial matches dropped because MaxStates was reached
	Expired       uint64 // partial matches dropped after maxspan
	LiveStates    int    // pending partial matches and missing-event marks
	Buffered      int    // stage hits waiting in the reorder buffer
	Watermark     int64
	KeysFannedOut uint64
	// Excluded counts the (event, rule) pairs left out by the rule's
	// exceptions; Engine.ExcludedCounts splits it by rule and list.
	Excluded uint64
}

type ord struct {
	ts  int64
	tb  int64
	seq uint64
}

func (a ord) less(b ord) bool {
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	if a.tb != b.tb {
		return a.tb < b.tb
	}
	return a.seq < b.seq
}

type hitItem struct {
	st   *stage
	keys []uint64
}

type hit struct {
	o     ord
	ref   uint64
	items []hitItem
	// kbuf backs the items' join keys; it is reused with the hit.
	kbuf []uint64
}

// newHit returns a hit record from the engine's free list (released hits
// keep their items and keys capacity), or a new one.
func (e *Engine) newHit(o ord, ref uint64) *hit {
	var h *hit
	if n := len(e.freeHits); n > 0 {
		h = e.freeHits[n-1]
		e.freeHits = e.freeHits[:n-1]
	} else {
		h = &hit{}
	}
	h.o, h.ref = o, ref
	return h
}

// maxFreeHits bounds the free list: a burst that buffered many hits does
// not pin their memory once released.
const maxFreeHits = 1024

// releaseHit returns a hit that has been applied to the free list.
func (e *Engine) releaseHit(h *hit) {
	if len(e.freeHits) >= maxFreeHits {
		return
	}
	clear(h.items) // drop the stage pointers
	h.items, h.kbuf = h.items[:0], h.kbuf[:0]
	e.freeHits = append(e.freeHits, h)
}

type hitHeap []*hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return h[i].o.less(h[j].o) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(*hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Engine evaluates a Program over one ordered stream (one partition). It is
// not safe for concurrent use; use one engine per partition.
type Engine struct {
	p       *Program
	ev      Event
	dec     decoder
	c       ctx
	out     []Match
	cands   []*stage
	ix      candScratch
	keyBuf  []byte
	keys    []uint64
	seq     uint64
	maxTs   int64
	wm      int64
	started bool
	buf     hitHeap
	// freeHits are applied hit records for reuse (newHit).
	freeHits []*hit
	// kscratch holds the join keys of an event's first stage hit before
	// it has a hit record.
	kscratch []uint64
	st       *state
	stats    Stats
	// exclMemo holds, per rule, seq<<1|excluded for the current event;
	// excluded counts events per rule and exception list (exclude.go).
	exclMemo []uint64
	excluded []uint64
	// rulesByID finds the rule of a restored state record (ApplyDelta).
	rulesByID map[string]*Rule
}

// NewEngine returns an engine with empty state.
func (p *Program) NewEngine() *Engine {
	e := &Engine{p: p, wm: math.MinInt64, maxTs: math.MinInt64}
	e.c.boundSlot = -1
	e.c.ev = &e.ev
	e.st = newState(e)
	if p.nExcl > 0 {
		e.exclMemo = make([]uint64, len(p.rules))
		e.excluded = make([]uint64, p.nExcl)
	}
	return e
}

// Program returns the engine's program.
func (e *Engine) Program() *Program { return e.p }

// Watermark is the event-time watermark in Unix nanoseconds: the newest
// timestamp seen minus the allowed disorder.
func (e *Engine) Watermark() int64 { return e.wm }

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.LiveStates = len(e.st.m)
	s.Buffered = len(e.buf)
	s.Watermark = e.wm
	return s
}

// Decode decodes raw into the engine's event without evaluating it.
func (e *Engine) decode(raw []byte) error {
	if err := e.p.sch.decode(raw, &e.ev, e.p.opts.MaxDepth, &e.dec); err != nil {
		return err
	}
	v, ok := e.ev.first(e.p.tsSlot)
	if !ok || v.Kind == KindNull {
		return &DecodeError{Offset: -1, Reason: ReasonNoTime, Msg: "missing " + e.p.opts.TimestampField}
	}
	ts, ok := parseTime(v)
	if !ok {
		return &DecodeError{Offset: -1, Reason: ReasonBadTime, Msg: "invalid " + e.p.opts.TimestampField + " " + v.String()}
	}
	e.ev.Timestamp, e.ev.HasTimestamp = ts, true
	for i, slot := range e.p.req {
		if !e.ev.exists(slot) {
			f := e.p.opts.RequiredFields[i]
			return &DecodeError{Offset: -1, Reason: "missing_" + strings.ReplaceAll(f, ".", "_"), Msg: "missing " + f}
		}
	}
	if e.p.tbSlot >= 0 {
		if v, ok := e.ev.first(e.p.tbSlot); ok {
			if f, ok := numOf(v); ok {
				e.ev.Tiebreaker, e.ev.HasTiebreak = sortableFloat(f), true
			}
		}
	}
	return nil
}

// Process decodes and evaluates one event. ref is the caller's reference for
// it (returned in matches). It appends event-rule matches at once and
// sequence matches as the watermark releases them; retained reports whether
// the event may be part of a later match (keep its body if you need it).
func (e *Engine) Process(raw []byte, ref uint64) (matches []Match, retained bool, err error) {
	e.out = e.out[:0]
	if err := e.decode(raw); err != nil {
		return nil, false, err
	}
	e.stats.Events++
	e.seq++
	tb := int64(math.MaxInt64) // events without a tiebreaker sort last (Elasticsearch: nulls last)
	if e.ev.HasTiebreak {
		tb = e.ev.Tiebreaker
	}
	o := ord{ts: e.ev.Timestamp, tb: tb, seq: e.seq}
	c := &e.c
	c.buf = c.buf[:0]
	var h *hit
	for _, s := range e.candidates() {
		if !s.pred(c) || (s.rule.excl != nil && e.excludes(s.rule)) {
			continue
		}
		if s.rule.Kind == EventRule {
			e.out = append(e.out, Match{Rule: s.rule, Refs: []uint64{ref}, Timestamp: o.ts})
			e.stats.Matches++
			continue
		}
		if h == nil {
			// the first stage hit: take a hit record only when the event
			// has a join key (a quiet event must not allocate one)
			e.kscratch = e.joinKeys(s, e.kscratch[:0])
			if len(e.kscratch) == 0 {
				continue
			}
			h = e.newHit(o, ref)
			h.kbuf = append(h.kbuf, e.kscratch...)
			h.items = append(h.items, hitItem{st: s, keys: h.kbuf[0:len(h.kbuf):len(h.kbuf)]})
			continue
		}
		from := len(h.kbuf)
		h.kbuf = e.joinKeys(s, h.kbuf)
		if len(h.kbuf) == from {
			continue
		}
		h.items = append(h.items, hitItem{st: s, keys: h.kbuf[from:len(h.kbuf):len(h.kbuf)]})
	}
	if h != nil && len(h.items) == 0 {
		e.releaseHit(h) // every matching stage had a null join key
		h = nil
	}
	if h != nil {
		retained = true
		if e.started && o.ts < e.wm {
			e.stats.Late++
			e.apply(h)
			e.releaseHit(h)
		} else {
			heap.Push(&e.buf, h)
		}
	}
	if !e.started || o.ts > e.maxTs {
		e.maxTs = o.ts
		e.started = true
		e.advance(satSub(o.ts, int64(e.p.opts.AllowedDisorder)))
	}
	return e.out, retained, nil
}

func satSub(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// Advance moves the watermark forward to wm (Unix nanoseconds), releasing
// buffered events and deciding expired and trailing-missing partial matches.
func (e *Engine) Advance(wm int64) []Match {
	e.out = e.out[:0]
	e.advance(wm)
	return e.out
}

// Flush ends the input: every buffered event is processed and every pending
// trailing missing-event match decided.
func (e *Engine) Flush() []Match {
	e.out = e.out[:0]
	e.advance(math.MaxInt64)
	return e.out
}

// FlushIdle releases every buffered event, as if the stream had moved past
// the newest timestamp seen: for a partition that has gone quiet, so the
// matches its last events complete are not held back until more traffic
// arrives. Events arriving afterwards with older timestamps count as late.
// It returns nil when nothing is buffered.
func (e *Engine) FlushIdle() []Match {
	e.out = e.out[:0]
	if len(e.buf) == 0 || !e.started {
		return nil
	}
	e.advance(e.maxTs + 1)
	return e.out
}

func (e *Engine) advance(wm int64) {
	if wm <= e.wm {
		return
	}
	for len(e.buf) > 0 && e.buf[0].o.ts < wm {
		h := heap.Pop(&e.buf).(*hit)
		e.st.expire(h.o.ts)
		e.apply(h)
		e.releaseHit(h)
	}
	e.wm = wm
	e.st.expire(wm)
}

// candidates returns the stages the event may match: by category and the
// rule index (index.go), or by category alone when the index is disabled.
func (e *Engine) candidates() []*stage {
	p := e.p
	memos := 0
	if p.memos != nil {
		memos = len(p.memos.ids)
	}
	e.c.newEvent(memos) // forget memoized conditions and lower-cased values
	if p.opts.DisableIndex {
		e.cands = e.cands[:0]
		for _, s := range p.all {
			if s.category == "" || e.hasCategory(s.category) {
				e.cands = append(e.cands, s)
			}
		}
		return e.cands
	}
	return e.indexCandidates()
}

func (e *Engine) hasCategory(cat string) bool {
	for i := e.ev.slots[e.p.catSlot].head; i != 0; i = e.ev.vals[i-1].next {
		v := e.ev.vals[i-1].v
		if v.Kind == KindString && bstr(v.Str) == cat {
			return true
		}
	}
	return false
}

// joinKeys appends to dst the hashes of the stage's join key tuples: one per
// combination of values (multi-valued keys fan out); none when a key is null.
func (e *Engine) joinKeys(s *stage, dst []uint64) []uint64 {
	if len(s.keys) == 0 {
		return append(dst, 0)
	}
	ev := &e.ev
	combos := 1
	for k, slot := range s.keys {
		n := 0
		for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
			if k := ev.vals[i-1].v.Kind; k != KindNull && k != KindObject {
				n++
			}
		}
		if n == 0 {
			if !s.optional[k] {
				return dst // a null key takes no part
			}
			n = 1 // `by ?f`: null is the key value
		}
		combos *= n
		if combos > 64 {
			combos = 64
		}
	}
	if combos > 1 {
		e.stats.KeysFannedOut++
	}
	from := len(dst)
	dst, e.keyBuf = e.keyTuples(s, 0, e.keyBuf[:0], dst, from)
	// dedupe identical tuples (a value listed twice)
	if out := dst[from:]; len(out) > 1 {
		uniq := out[:1]
		for _, k := range out[1:] {
			dup := false
			for _, u := range uniq {
				if u == k {
					dup = true
					break
				}
			}
			if !dup {
				uniq = append(uniq, k)
			}
		}
		dst = dst[:from+len(uniq)]
	}
	return dst
}

// keyTuples appends the hash of every tuple of key values from the k-th key
// on (buf holds the encoded values of the keys before it), at most 64 from
// dst[from:]. It returns dst and buf (for reuse of its capacity).
func (e *Engine) keyTuples(s *stage, k int, buf []byte, dst []uint64, from int) ([]uint64, []byte) {
	if len(dst)-from >= 64 {
		return dst, buf
	}
	if k == len(s.keys) {
		return append(dst, xxhash.Sum64(buf)|1), buf
	}
	ev := &e.ev
	slot := s.keys[k]
	n := len(buf)
	found := false
	for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
		v := ev.vals[i-1].v
		if v.Kind == KindNull || v.Kind == KindObject {
			continue
		}
		found = true
		b := append(buf[:n], byte(v.Kind))
		switch v.Kind {
		case KindNumber:
			b = appendNum(b, v.Num)
		case KindBool:
			if v.Bool {
				b = append(b, '1')
			}
		default:
			b = append(b, v.Str...)
		}
		b = append(b, 0)
		dst, buf = e.keyTuples(s, k+1, b, dst, from)
	}
	if !found && s.optional[k] {
		dst, buf = e.keyTuples(s, k+1, append(buf[:n], byte(KindNull), 0), dst, from)
	}
	return dst, buf
}

// parseTime parses an RFC 3339 timestamp or epoch milliseconds.
func parseTime(v Value) (int64, bool) {
	switch v.Kind {
	case KindNumber:
		return int64(v.Num * 1e6), true
	case KindString:
		if ts, ok := fastRFC3339(v.Str); ok {
			return ts, true
		}
		// epoch_millis, the other half of Elasticsearch's default date format
		if ms, err := strconv.ParseInt(bstr(v.Str), 10, 64); err == nil {
			return ms * 1e6, true
		}
		t, err := time.Parse(time.RFC3339Nano, string(v.Str))
		if err != nil {
			return 0, false
		}
		return t.UnixNano(), true
	}
	return 0, false
}

// fastRFC3339 parses YYYY-MM-DDTHH:MM:SS[.fraction]Z without allocating.
func fastRFC3339(b []byte) (int64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return 0, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return 0, false
	}
	var frac int64
	rest := b[19 : len(b)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return 0, false
		}
		f, ok := num(rest[1:])
		if !ok {
			return 0, false
		}
		frac = int64(f)
		for i := len(rest) - 1; i < 9; i++ {
			frac *= 10
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC)
	if t.Day() != d {
		return 0, false
	}
	return t.UnixNano() + frac, true
}

// FieldString returns the first string value of a decoded field of the last
// event processed; the field must be one the program decodes (a rule field
// or a RequiredFields entry).
func (e *Engine) FieldString(name string) (string, bool) {
	slot, ok := e.p.sch.index[name]
	if !ok {
		return "", false
	}
	v, ok := e.ev.first(slot)
	if !ok || v.Kind == KindNull || v.Kind == KindObject {
		return "", false
	}
	return v.String(), true
}

// FieldEquals reports whether a decoded field of the last event processed
// has a value (its first, as FieldString), and whether its string form
// equals want; string values are compared without allocating.
func (e *Engine) FieldEquals(name string, want []byte) (present, equal bool) {
	slot, ok := e.p.sch.index[name]
	if !ok {
		return false, false
	}
	v, ok := e.ev.first(slot)
	if !ok || v.Kind == KindNull || v.Kind == KindObject {
		return false, false
	}
	if v.Kind == KindString {
		return true, string(v.Str) == string(want)
	}
	return true, v.String() == string(want)
}

// sortableFloat maps a float64 to an int64 with the same order.
func sortableFloat(f float64) int64 {
	b := int64(math.Float64bits(f))
	if b < 0 {
		b ^= math.MaxInt64
	}
	return b
}
