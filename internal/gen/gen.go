package gen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"
)

// Chain kinds, one per detection rule.
const (
	KindAPTShell         = "apt_shell"
	KindAPTNetcon        = "apt_netcon"
	KindDPKGUnusual      = "dpkg_unusual"
	KindChmodPersistence = "chmod_persistence"
)

// Kinds lists the attack chain kinds in a stable order.
func Kinds() []string {
	return []string{KindAPTShell, KindAPTNetcon, KindDPKGUnusual, KindChmodPersistence}
}

// Stats counts what has been emitted so far. A chain or look-alike counts
// once all of its events have been emitted.
type Stats struct {
	Events     int
	Chains     int
	Lookalikes int
	// ChainsByKind has one entry per Kinds() name.
	ChainsByKind map[string]int
	// LookalikesByVariant counts look-alikes by "kind/variant".
	LookalikesByVariant map[string]int
}

// Injection describes one injected attack chain or look-alike.
type Injection struct {
	Kind      string // one of Kinds(): the rule it targets
	Variant   string // what was injected, e.g. "curl_ipv4" or "nonpublic_ip"
	Lookalike bool   // true for look-alikes and near misses: no alert expected
	HostID    string
	HostName  string
	// EntityIDs are the process.entity_id values of the events that match (or
	// nearly match) the rule, in stage order: one for the event rules, two for
	// the sequences. (For apt_netcon/other_host the second event is on
	// another host.)
	EntityIDs []string
	// Lines are the positions of those events in the emitted stream (0 for
	// the first event Next returns), in the same order: with the stream they
	// identify the exact matched events, e.g. to tell whether one arrived
	// late at a consumer.
	Lines []int
	// Procs are the process.entity_id values of every event of the chain
	// or look-alike (its whole process tree, not only the matching events),
	// in order of first appearance: what other rules may legitimately see
	// of it.
	Procs []string
	// Time is the @timestamp of the last of those events.
	Time time.Time
}

// Generator produces the events of one Config. It is not safe for concurrent
// use.
type Generator struct {
	cfg        Config
	r          *rand.Rand
	hosts      []*host
	pq         eventHeap
	seq        uint64
	created    int
	emitted    int
	nextT      float64 // ms; start of the next chain slot
	disorderMS int64
	msPerEvent float64

	injections   []*injection
	doneInj      int
	chains       int
	lookalikes   int
	chainsByKind [4]int
	lookByVar    map[string]int
	hashCache    map[string]string
	free         []*event
	w            jsonWriter
	dc           dateCache
	lineBuf      []byte
	scratch      []*event
}

// New returns a generator for cfg.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gen: invalid config: %w", err)
	}
	cfg = cfg.withDefaults()
	seed := uint64(cfg.Seed)
	g := &Generator{
		cfg:        cfg,
		r:          rand.New(rand.NewPCG(seed, mix64(seed^0x6571_6c73_7472_6561))),
		nextT:      float64(cfg.Start.UnixMilli()),
		disorderMS: cfg.Disorder.Milliseconds(),
		msPerEvent: 1000 / cfg.Rate,
		lookByVar:  map[string]int{},
		hashCache:  map[string]string{},
	}
	g.hosts = make([]*host, cfg.Hosts)
	for i := range g.hosts {
		g.hosts[i] = g.newHost(i, cfg.Start.UnixMilli())
	}
	return g, nil
}

// Next appends the next event's JSON (one object, no newline) to dst and
// returns it with the event's host.id; ok is false once Config.Events events
// have been emitted.
func (g *Generator) Next(dst []byte) (out []byte, hostID string, ok bool) {
	if g.emitted >= g.cfg.Events {
		return dst, "", false
	}
	for g.created < g.cfg.Events && (len(g.pq) == 0 || int64(g.nextT) <= g.pq[0].key) {
		g.slot()
	}
	e := g.pq.pop()
	out = g.render(dst, e)
	g.emitted++
	if inj := e.inj; inj != nil {
		if e.mark > 0 {
			inj.Lines[e.mark-1] = g.emitted - 1
		}
		inj.pending--
		if inj.pending == 0 {
			g.doneInj++
			if inj.Lookalike {
				g.lookalikes++
				g.lookByVar[inj.Kind+"/"+inj.Variant]++
			} else {
				g.chains++
				g.chainsByKind[kindIndex(inj.Kind)]++
			}
		}
	}
	hostID = e.h.id
	*e = event{}
	g.free = append(g.free, e)
	return out, hostID, true
}

// WriteNDJSON writes all remaining events to w, one per line, and returns the
// number of events written.
func (g *Generator) WriteNDJSON(w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	n := 0
	for {
		var ok bool
		g.lineBuf, _, ok = g.Next(g.lineBuf[:0])
		if !ok {
			break
		}
		g.lineBuf = append(g.lineBuf, '\n')
		if _, err := bw.Write(g.lineBuf); err != nil {
			return n, fmt.Errorf("gen: write event %d: %w", g.emitted, err)
		}
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("gen: flush: %w", err)
	}
	return n, nil
}

// Stats returns counts of what has been emitted so far.
func (g *Generator) Stats() Stats {
	s := Stats{
		Events:              g.emitted,
		Chains:              g.chains,
		Lookalikes:          g.lookalikes,
		ChainsByKind:        make(map[string]int, 4),
		LookalikesByVariant: make(map[string]int, len(g.lookByVar)),
	}
	for i, k := range Kinds() {
		s.ChainsByKind[k] = g.chainsByKind[i]
	}
	for k, v := range g.lookByVar {
		s.LookalikesByVariant[k] = v
	}
	return s
}

// Injections returns the chains and look-alikes whose events have all been
// emitted, in the order they were injected.
func (g *Generator) Injections() []Injection {
	out := make([]Injection, 0, g.doneInj)
	for _, inj := range g.injections {
		if inj.pending == 0 {
			out = append(out, inj.Injection)
		}
	}
	return out
}

func kindIndex(kind string) int {
	switch kind {
	case KindAPTShell:
		return 0
	case KindAPTNetcon:
		return 1
	case KindDPKGUnusual:
		return 2
	default:
		return 3
	}
}

// slot builds one unit of activity (background, chain or look-alike) at the
// current slot time on a random host and schedules its events.
func (g *Generator) slot() {
	t0 := int64(g.nextT)
	h := g.hosts[g.r.IntN(len(g.hosts))]
	b := g.newBuilder(h, t0)
	u := g.r.Float64()
	switch {
	case u < g.cfg.AttackRate:
		g.buildChain(b)
	case u < g.cfg.AttackRate+g.cfg.LookalikeRate:
		g.buildLookalike(b)
	default:
		g.buildBackground(b)
	}
	if !g.commit(b) {
		b = g.newBuilder(h, t0)
		g.filler(b)
		if !g.commit(b) {
			panic("gen: a one-event filler did not fit the remaining budget")
		}
	}
	g.nextT += g.r.ExpFloat64() * float64(len(b.evs)) * g.msPerEvent
	g.releaseScratch(b)
}

// commit schedules the builder's events if they fit the remaining budget.
func (g *Generator) commit(b *builder) bool {
	if len(b.evs) == 0 || len(b.evs) > g.cfg.Events-g.created {
		return g.discard(b)
	}
	first := g.created == 0
	if first {
		// The first event of the stream is at Config.Start exactly.
		minTS := b.evs[0].ts
		for _, e := range b.evs {
			minTS = min(minTS, e.ts)
		}
		if minTS != b.t0 {
			return g.discard(b)
		}
	}
	if b.inj != nil {
		b.inj.pending = len(b.evs)
		b.inj.HostID, b.inj.HostName = b.h.id, b.h.name
		seen := make(map[string]bool, len(b.evs))
		for _, e := range b.evs {
			if !seen[e.p.entityID] {
				seen[e.p.entityID] = true
				b.inj.Procs = append(b.inj.Procs, e.p.entityID)
			}
		}
		g.injections = append(g.injections, b.inj)
	}
	for _, e := range b.evs {
		if e.ts < b.t0 {
			panic(fmt.Sprintf("gen: event at %d before its slot at %d", e.ts, b.t0))
		}
		e.seq = g.seq
		g.seq++
		e.key = e.ts
		if g.disorderMS > 0 && !first && g.r.Float64() < delayedShare {
			e.key += g.r.Int64N(g.disorderMS + 1)
		}
		if g.r.Float64() < dottedShare {
			e.style = 1 + uint8(g.r.IntN(int(numStyles-1)))
		}
		e.inj = b.inj
		g.pq.push(e)
	}
	g.created += len(b.evs)
	b.h.sessions = append(b.h.sessions, b.newSessions...)
	return true
}

func (g *Generator) discard(b *builder) bool {
	for _, e := range b.evs {
		*e = event{}
		g.free = append(g.free, e)
	}
	b.evs = b.evs[:0]
	return false
}

const (
	delayedShare = 0.25 // share of events held back by up to Config.Disorder
	dottedShare  = 0.05 // share of events written with some dotted keys
)

func (g *Generator) alloc() *event {
	if n := len(g.free); n > 0 {
		e := g.free[n-1]
		g.free = g.free[:n-1]
		return e
	}
	return new(event)
}

func (g *Generator) hashFor(exe string) string {
	h, ok := g.hashCache[exe]
	if !ok {
		h = exeHash(exe)
		g.hashCache[exe] = h
	}
	return h
}

// eventHeap is a min-heap of events by (key, seq).
type eventHeap []*event

func (q *eventHeap) push(e *event) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *eventHeap) pop() *event {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = nil
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// Random helpers.

func (g *Generator) intn(n int) int { return g.r.IntN(n) }

func (g *Generator) chance(p float64) bool { return g.r.Float64() < p }

// between returns a uniform integer in [lo, hi].
func (g *Generator) between(lo, hi int64) int64 { return lo + g.r.Int64N(hi-lo+1) }

// jitter returns d scaled by a log-normal-ish factor in about [0.3, 3].
func (g *Generator) jitter(d int64) int64 {
	f := math.Exp(g.r.NormFloat64() * 0.5)
	return max(1, int64(float64(d)*f))
}

func pick[T any](g *Generator, xs []T) T { return xs[g.r.IntN(len(xs))] }
