package partition

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

func builtinSet(t *testing.T) *rules.RuleSet {
	t.Helper()
	set, err := rules.Compile(rules.Builtin(), engine.Options{RequiredFields: []string{"host.id"}})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func genEvents(t *testing.T, seed int64, n int) [][]byte {
	t.Helper()
	g, err := gen.New(gen.Config{Seed: seed, Events: n, Hosts: 6, AttackRate: 0.08, LookalikeRate: 0.08, Disorder: 1500e6})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		b, _, ok := g.Next(nil)
		if !ok {
			return out
		}
		out = append(out, b)
	}
}

// online plays the pipeline against one partition: transactions of random
// size, idle flushes in transactions of their own at random points, aborts
// (rolled back and replayed), and restarts that restore the committed state
// records. It returns the committed alert IDs, the committed meta records in
// order, and the last committed processor.
type online struct {
	t       *testing.T
	set     *rules.RuleSet
	events  [][]byte
	tp      TP
	alerts  []string
	metas   [][]byte
	state   map[string][]byte // the compacted state topic
	flushes int               // committed flushes, counted by the driver
	unsafe  bool              // flush without recording (negative control)
}

func (o *online) alertIDs(ms []engine.Match) []string {
	var ids []string
	for _, m := range ms {
		_, id, err := o.set.Alert(m, func(ref uint64) ([]byte, bool) { return o.events[ref], true }, time.Time{})
		if err != nil {
			o.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func (o *online) commit(p *Processor, ids []string) {
	recs := p.PendingState()
	for _, r := range recs {
		if r.Value == nil {
			delete(o.state, string(r.Key))
		} else {
			o.state[string(r.Key)] = r.Value
		}
	}
	o.metas = append(o.metas, recs[len(recs)-1].Value)
	p.Committed()
	o.alerts = append(o.alerts, ids...)
}

func (o *online) restore() *Processor {
	r := NewRestorer(o.tp)
	keys := make([]string, 0, len(o.state))
	for k := range o.state {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	committed := int64(-1)
	for _, k := range keys {
		r.Add([]byte(k), o.state[k])
	}
	if v, ok := o.state[string(MetaKey(o.tp))]; ok {
		committed = int64(binary.BigEndian.Uint64(v[1:9]))
	}
	p, err := r.Build(o.set, committed)
	if err != nil {
		o.t.Fatal(err)
	}
	return p
}

func (o *online) run(seed uint64) *Processor {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := New(o.tp, o.set, 0)
	for p.Next < int64(len(o.events)) {
		switch k := rng.IntN(100); {
		case k < 3: // restart: state from the state topic
			p = o.restore()
		case k < 30: // quiet: an idle flush in a transaction of its own
			p.Begin()
			var ms []engine.Match
			before := p.Engine.Stats().Buffered
			if o.unsafe {
				ms = p.UnsafeFlushIdleUnrecorded()
			} else {
				ms = p.FlushIdle()
			}
			ids := o.alertIDs(ms)
			if rng.IntN(4) == 0 {
				if err := p.Aborted(); err != nil {
					o.t.Fatal(err)
				}
				continue
			}
			if before > 0 {
				o.flushes++
			}
			o.commit(p, ids)
		default: // a batch of records
			p.Begin()
			var ids []string
			n := 1 + rng.IntN(60)
			for i := 0; i < n && p.Next < int64(len(o.events)); i++ {
				ms, _, err := p.Engine.Process(o.events[p.Next], uint64(p.Next))
				if err != nil {
					o.t.Fatal(err)
				}
				ids = append(ids, o.alertIDs(ms)...)
				p.Next++
			}
			if rng.IntN(5) == 0 {
				if err := p.Aborted(); err != nil {
					o.t.Fatal(err)
				}
				continue
			}
			o.commit(p, ids)
		}
	}
	return p
}

// replay evaluates the events offline with idle flushes at the given points.
func replay(t *testing.T, set *rules.RuleSet, events [][]byte, points []int64) ([]string, engine.Stats) {
	e := set.Program.NewEngine()
	var ids []string
	add := func(ms []engine.Match) {
		for _, m := range ms {
			_, id, err := set.Alert(m, func(ref uint64) ([]byte, bool) { return events[ref], true }, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
	}
	i := 0
	for off := range events {
		for i < len(points) && points[i] <= int64(off) {
			add(e.FlushIdle())
			i++
		}
		ms, _, err := e.Process(events[off], uint64(off))
		if err != nil {
			t.Fatal(err)
		}
		add(ms)
	}
	for ; i < len(points); i++ {
		add(e.FlushIdle())
	}
	return ids, e.Stats()
}

func history(t *testing.T, metas [][]byte) *FlushHistory {
	t.Helper()
	h := &FlushHistory{}
	for _, m := range metas {
		if err := h.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// The committed meta records carry every idle flush, and replaying the input
// with flushes at those points gives the online alerts (in order) and the
// online engine state, though flushes made events late.
func TestReplayWithRecordedFlushesEqualsOnline(t *testing.T) {
	set := builtinSet(t)
	events := genEvents(t, 5, 6000)
	for seed := uint64(1); seed <= 4; seed++ {
		o := &online{t: t, set: set, events: events, tp: TP{"in", 3}, state: map[string][]byte{}}
		last := o.run(seed)
		h := history(t, o.metas)
		if len(h.Points) != o.flushes || h.Last.Flushes != uint64(o.flushes) {
			t.Fatalf("seed %d: %d flush points, counter %d, %d committed flushes", seed, len(h.Points), h.Last.Flushes, o.flushes)
		}
		want := last.Engine.Stats()
		if want.Late == 0 || o.flushes == 0 {
			t.Fatalf("seed %d: %d flushes and %d late events: the test proves nothing", seed, o.flushes, want.Late)
		}
		ids, got := replay(t, set, events, h.Points)
		if !slices.Equal(ids, o.alerts) {
			t.Fatalf("seed %d: replay gives %d alerts, online committed %d", seed, len(ids), len(o.alerts))
		}
		committed, err := engine.MetaStats(h.Last.Engine)
		if err != nil {
			t.Fatal(err)
		}
		if got.Late != want.Late || got.Matches != want.Matches || got.Watermark != want.Watermark || got.Buffered != want.Buffered ||
			committed.Late != want.Late || committed.Watermark != want.Watermark || committed.Events != want.Events {
			t.Fatalf("seed %d: replay state %+v, online %+v, committed %+v", seed, got, want, committed)
		}
		// without the recorded flushes the replay is another answer
		_, noFlush := replay(t, set, events, nil)
		if noFlush.Late == want.Late {
			t.Fatalf("seed %d: the replay without flush points has the same %d late events", seed, want.Late)
		}
	}
}

// Flushes that are not recorded (the negative control) leave the replay
// with a different state.
func TestUnrecordedFlushesAreNotReproducible(t *testing.T) {
	set := builtinSet(t)
	events := genEvents(t, 5, 6000)
	o := &online{t: t, set: set, events: events, tp: TP{"in", 0}, state: map[string][]byte{}, unsafe: true}
	last := o.run(9)
	h := history(t, o.metas)
	if len(h.Points) != 0 || o.flushes == 0 {
		t.Fatalf("%d points recorded, %d flushes", len(h.Points), o.flushes)
	}
	_, got := replay(t, set, events, h.Points)
	if want := last.Engine.Stats(); got.Late == want.Late {
		t.Fatalf("the replay reproduces %d late events without the flushes", want.Late)
	}
}

func TestFlushRecordCommitsAndRollsBack(t *testing.T) {
	set := builtinSet(t)
	events := genEvents(t, 5, 6000)
	tp := TP{"in", 1}
	p := New(tp, set, 0)
	p.Begin()
	// up to the first event that waits in the reorder buffer
	for p.Next < int64(len(events)) && p.Engine.Stats().Buffered == 0 {
		if _, _, err := p.Engine.Process(events[p.Next], uint64(p.Next)); err != nil {
			t.Fatal(err)
		}
		p.Next++
	}
	p.Committed()
	if p.Engine.Stats().Buffered == 0 {
		t.Fatal("nothing buffered: the test proves nothing")
	}
	n := p.Next
	p.Begin()
	p.FlushIdle()
	if p.Flushes != 1 || p.LastFlush != n {
		t.Fatalf("flush record %d at %d, want 1 at %d", p.Flushes, p.LastFlush, n)
	}
	if err := p.Aborted(); err != nil {
		t.Fatal(err)
	}
	if p.Flushes != 0 || p.LastFlush != -1 || p.Engine.Stats().Buffered == 0 {
		t.Fatalf("after abort: flush record %d at %d, %d buffered", p.Flushes, p.LastFlush, p.Engine.Stats().Buffered)
	}
	p.Begin()
	p.FlushIdle()
	if again := p.FlushIdle(); again != nil || p.Flushes != 1 {
		t.Fatalf("a flush with nothing buffered was recorded: %d flushes", p.Flushes)
	}
	recs := p.PendingState()
	p.Committed()
	meta := recs[len(recs)-1]
	if string(meta.Key) != string(MetaKey(tp)) {
		t.Fatalf("last state record %q is not the meta record", meta.Key)
	}
	m, err := DecodeMeta(meta.Value)
	if err != nil || m.Version != metaVersion || m.Next != n || m.Flushes != 1 || m.LastFlush != n {
		t.Fatalf("meta %+v, %v", m, err)
	}
	// restored, the counter continues
	r := NewRestorer(tp)
	for _, sr := range recs {
		r.Add(sr.Key, sr.Value)
	}
	q, err := r.Build(set, n)
	if err != nil {
		t.Fatal(err)
	}
	if q.Flushes != 1 || q.LastFlush != n {
		t.Fatalf("restored flush record %d at %d", q.Flushes, q.LastFlush)
	}
	q.Begin()
	if err := q.Aborted(); err != nil || q.Flushes != 1 {
		t.Fatalf("abort after restore: %d flushes, %v", q.Flushes, err)
	}
}

// Meta records written before flushes were recorded (version 1) still
// restore.
func TestVersion1MetaStillRestores(t *testing.T) {
	set := builtinSet(t)
	events := genEvents(t, 2, 300)
	tp := TP{"in", 2}
	p := New(tp, set, 0)
	p.Begin()
	for p.Next < int64(len(events)) {
		if _, _, err := p.Engine.Process(events[p.Next], uint64(p.Next)); err != nil {
			t.Fatal(err)
		}
		p.Next++
	}
	deltas, meta := p.Engine.Commit()
	v1 := append([]byte{1}, binary.BigEndian.AppendUint64(nil, 300)...)
	v1 = append(v1, meta...)
	r := NewRestorer(tp)
	for _, d := range deltas {
		r.Add(DeltaKey(tp, d.RuleID, d.Key), d.Value)
	}
	r.Add(MetaKey(tp), v1)
	q, err := r.Build(set, 300)
	if err != nil {
		t.Fatal(err)
	}
	if q.Next != 300 || q.Flushes != 0 || q.LastFlush != -1 || q.Engine.Stats() != p.Engine.Stats() {
		t.Fatalf("restored from version 1: next %d, flushes %d at %d, stats %+v want %+v", q.Next, q.Flushes, q.LastFlush, q.Engine.Stats(), p.Engine.Stats())
	}
	h := &FlushHistory{}
	if err := h.Add(v1); err != nil || h.Version1 != 1 || len(h.Points) != 0 {
		t.Fatalf("history of a version-1 record: %+v, %v", h, err)
	}
	if _, err := DecodeMeta([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Fatal("version 3 decoded")
	}
}

func meta2(next int64, flushes uint64, last int64) []byte {
	v := []byte{2}
	v = binary.BigEndian.AppendUint64(v, uint64(next))
	v = binary.BigEndian.AppendUint64(v, flushes)
	return binary.BigEndian.AppendUint64(v, uint64(last))
}

// The history reports what it cannot vouch for instead of a shorter list.
func TestFlushHistoryChecks(t *testing.T) {
	good := [][]byte{meta2(10, 0, -1), meta2(10, 1, 10), meta2(25, 1, 10), meta2(25, 2, 25), meta2(40, 2, 25)}
	h := history(t, good)
	if !slices.Equal(h.Points, []int64{10, 25}) {
		t.Fatalf("points %v", h.Points)
	}
	for name, recs := range map[string][][]byte{
		"compacted head":    {meta2(30, 3, 30)},
		"gap":               {meta2(10, 0, -1), meta2(30, 2, 30)},
		"counter back":      {meta2(10, 1, 10), meta2(30, 0, -1)},
		"offset back":       {meta2(30, 1, 10), meta2(20, 1, 10)},
		"point outside":     {meta2(10, 0, -1), meta2(30, 1, 5)},
		"point moved":       {meta2(10, 1, 10), meta2(30, 1, 20)},
		"version downgrade": {meta2(10, 0, -1), append([]byte{1}, binary.BigEndian.AppendUint64(nil, 20)...)},
	} {
		h := &FlushHistory{}
		var err error
		for _, r := range recs {
			if err = h.Add(r); err != nil {
				break
			}
		}
		if !errors.Is(err, ErrHistory) {
			t.Errorf("%s: %v, want ErrHistory", name, err)
		}
	}
}
