package engine

// Bounded state: the number of pending partial matches never exceeds
// MaxStates, and everything dropped is counted — evictions in
// Stats().Evicted, expiry after maxspan in Stats().Expired, events behind the
// watermark in Stats().Late.

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules/eql"
)

func compileOne(t *testing.T, query string, opts Options) *Program {
	t.Helper()
	p, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: query}}}, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func mustProcess(t *testing.T, e *Engine, raw string, ref uint64) []Match {
	t.Helper()
	ms, _, err := e.Process([]byte(raw), ref)
	if err != nil {
		t.Fatalf("event %d: %v", ref, err)
	}
	return append([]Match(nil), ms...)
}

func unixSecs(s float64) int64 {
	return time.Unix(0, 0).Add(time.Duration(s * float64(time.Second))).UnixNano()
}

// TestStateMaxStatesEvicts: with MaxStates=4, ten pending first stages for ten
// keys keep the four newest; the six oldest are evicted and counted, and only
// the four kept keys can complete.
func TestStateMaxStatesEvicts(t *testing.T) {
	p := compileOne(t, `sequence by k with maxspan=1h [a where true] [b where true]`,
		Options{MaxStates: 4, AllowedDisorder: -1})
	e := p.NewEngine()
	for i := 0; i < 10; i++ {
		mustProcess(t, e, evk("a", float64(i), fmt.Sprintf("k%d", i)), uint64(i+1))
		e.Advance(unixSecs(float64(i) + 0.5))
		if st := e.Stats(); st.LiveStates > 4 {
			t.Fatalf("after %d events: %d live states > MaxStates 4", i+1, st.LiveStates)
		}
	}
	st := e.Stats()
	if st.LiveStates != 4 || st.Evicted != 6 {
		t.Fatalf("live %d evicted %d, want 4 and 6", st.LiveStates, st.Evicted)
	}
	var matched []uint64
	for i := 0; i < 10; i++ {
		for _, m := range mustProcess(t, e, evk("b", float64(20+i), fmt.Sprintf("k%d", i)), uint64(100+i)) {
			matched = append(matched, m.Refs[0])
		}
	}
	for _, m := range e.Flush() {
		matched = append(matched, m.Refs[0])
	}
	if fmt.Sprint(matched) != "[7 8 9 10]" {
		t.Errorf("matched first events %v, want [7 8 9 10] (the newest four)", matched)
	}
	st = e.Stats()
	if got := uint64(len(matched)) + st.Evicted; got != 10 {
		t.Errorf("matches %d + evicted %d != 10 partials created", len(matched), st.Evicted)
	}
	if st.Expired != 0 {
		t.Errorf("expired %d, want 0 (maxspan 1h)", st.Expired)
	}
}

// TestStateMaxStatesAcrossRules: the bound is per engine, across rules, and
// an eviction of a multi-stage partial is counted once per dropped entry.
func TestStateMaxStatesAcrossRules(t *testing.T) {
	p, err := Compile([]RuleDef{
		{ID: "r1", Source: &eql.Source{Text: `sequence by k with maxspan=1h [a where true] [b where true] [c where true]`}},
		{ID: "r2", Source: &eql.Source{Text: `sequence by k with maxspan=1h [a where true] [d where true]`}},
	}, Options{MaxStates: 8, AllowedDisorder: -1})
	if err != nil {
		t.Fatal(err)
	}
	e := p.NewEngine()
	r := rand.New(rand.NewSource(7))
	cats := []string{"a", "b", "c", "d"}
	for i := 0; i < 2000; i++ {
		mustProcess(t, e, evk(cats[r.Intn(4)], float64(i), fmt.Sprintf("k%d", r.Intn(40))), uint64(i+1))
		if st := e.Stats(); st.LiveStates > 8 {
			t.Fatalf("after %d events: %d live states > MaxStates 8", i+1, st.LiveStates)
		}
	}
	if st := e.Stats(); st.Evicted == 0 {
		t.Errorf("no eviction counted with 40 keys and MaxStates 8: %+v", st)
	}
}

// TestStateExpiry: a partial match older than maxspan behind the watermark is
// dropped and counted in Expired; it can no longer complete.
func TestStateExpiry(t *testing.T) {
	p := compileOne(t, `sequence by k with maxspan=5s [a where true] [b where true]`, Options{AllowedDisorder: 2 * time.Second})
	e := p.NewEngine()
	mustProcess(t, e, evk("a", 0, "k1"), 1)
	mustProcess(t, e, evk("a", 1, "k2"), 2)
	// An unrelated event moves the watermark to 20s - 2s: both partials are
	// more than 5s old.
	mustProcess(t, e, evk("z", 20, "k9"), 3)
	st := e.Stats()
	if st.Expired != 2 || st.LiveStates != 0 {
		t.Fatalf("expired %d live %d, want 2 and 0", st.Expired, st.LiveStates)
	}
	ms := mustProcess(t, e, evk("b", 20.5, "k1"), 4)
	ms = append(ms, e.Flush()...)
	if len(ms) != 0 {
		t.Errorf("expired partial matched: %v", ms[0].Refs)
	}

	// Explicit Advance expires too.
	e2 := p.NewEngine()
	mustProcess(t, e2, evk("a", 0, "k1"), 1)
	e2.Advance(unixSecs(5.5))
	if st := e2.Stats(); st.Expired != 1 || st.LiveStates != 0 {
		t.Errorf("after Advance: expired %d live %d, want 1 and 0", st.Expired, st.LiveStates)
	}

	// Exactly maxspan is not expired (maxspan is inclusive).
	e3 := p.NewEngine()
	mustProcess(t, e3, evk("a", 0, "k1"), 1)
	e3.Advance(unixSecs(5))
	if st := e3.Stats(); st.Expired != 0 || st.LiveStates != 1 {
		t.Errorf("at exactly maxspan: expired %d live %d, want 0 and 1", st.Expired, st.LiveStates)
	}
	ms = mustProcess(t, e3, evk("b", 5, "k1"), 2)
	ms = append(ms, e3.Flush()...)
	if len(ms) != 1 {
		t.Errorf("a then b at exactly maxspan: %d matches, want 1", len(ms))
	}
}

// TestStateExpiryWithoutMaxSpan: a sequence without maxspan is bounded by
// the rule's lookback (RuleDef.MaxSpan) or Options.DefaultMaxSpan.
func TestStateExpiryWithoutMaxSpan(t *testing.T) {
	q := `sequence by k [a where true] [b where true]`
	p, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: q}, MaxSpan: time.Minute}}, Options{AllowedDisorder: -1})
	if err != nil {
		t.Fatal(err)
	}
	e := p.NewEngine()
	mustProcess(t, e, evk("a", 0, "k1"), 1)
	mustProcess(t, e, evk("z", 61, "k9"), 2)
	if st := e.Stats(); st.Expired != 1 || st.LiveStates != 0 {
		t.Errorf("expired %d live %d, want 1 and 0 after the 1m lookback", st.Expired, st.LiveStates)
	}
}

// TestStateLateEvents: an event older than the watermark is counted in Late
// and still handled deterministically.
func TestStateLateEvents(t *testing.T) {
	p, err := Compile([]RuleDef{
		{ID: "seq", Source: &eql.Source{Text: `sequence by k with maxspan=1m [a where true] [b where true]`}},
		{ID: "ev", Source: &eql.Source{Text: `b where true`}},
	}, Options{AllowedDisorder: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runOnce := func() ([]string, Stats) {
		e := p.NewEngine()
		var out []string
		add := func(ms []Match) {
			for _, m := range ms {
				out = append(out, fmt.Sprintf("%s%v", m.Rule.ID, m.Refs))
			}
		}
		add(mustProcess(t, e, evk("a", 1, "k1"), 1))
		add(mustProcess(t, e, evk("a", 10, "k2"), 2))
		// watermark is now 9s: b at 5s is late.
		lateMs := mustProcess(t, e, evk("b", 5, "k1"), 3)
		sawEventRule := false
		for _, m := range lateMs {
			sawEventRule = sawEventRule || m.Rule.ID == "ev"
		}
		if !sawEventRule {
			t.Errorf("the event rule did not match the late event")
		}
		add(lateMs)
		add(mustProcess(t, e, evk("b", 11, "k2"), 4))
		add(e.Flush())
		return out, e.Stats()
	}
	out1, st := runOnce()
	if st.Late != 1 {
		t.Errorf("late %d, want 1", st.Late)
	}
	out2, _ := runOnce()
	if fmt.Sprint(out1) != fmt.Sprint(out2) {
		t.Errorf("late handling is not deterministic: %v vs %v", out1, out2)
	}
	// Not late: an event inside the allowed disorder.
	e := p.NewEngine()
	mustProcess(t, e, evk("a", 10, "k1"), 1)
	mustProcess(t, e, evk("a", 9.5, "k1"), 2)
	if st := e.Stats(); st.Late != 0 {
		t.Errorf("late %d for an event within the allowed disorder", st.Late)
	}
}

// TestStateLiveStatesDrain: after Flush nothing is pending or buffered.
func TestStateLiveStatesDrain(t *testing.T) {
	p := compileDiff(t, Options{TiebreakerField: "seq", AllowedDisorder: 3 * time.Second})
	e := p.NewEngine()
	diffFeed(t, e, disorder(genStream(51, 1000, 700), 3, 1500))
	if st := e.Stats(); st.LiveStates != 0 || st.Buffered != 0 {
		t.Errorf("after Flush: %d live states, %d buffered", st.LiveStates, st.Buffered)
	}
}
