package engine

// Boundary tests of the reorder buffer and the watermark. The documented
// semantics (Engine.Watermark, README "allowed disorder"): the watermark is
// the newest timestamp seen minus AllowedDisorder; an event is late only when
// its timestamp is strictly older than the watermark, so an event exactly
// AllowedDisorder behind the newest one is still ordered; the buffer releases
// events strictly older than the watermark, in Elasticsearch's ordinal order
// (Ordinal.compareTo: timestamp, then tiebreaker with nulls last, then
// arrival). Each case is a three-event stream whose single expected match
// exists only if the boundary is handled exactly as documented: moving the
// boundary by one comparison (< to <=) reorders two events and loses it.

import (
	"fmt"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules/eql"
)

const seqAB = `sequence [process where process.name == "a"] [process where process.name == "b"]`

// wmEvent is a process event at second sec (tb < 0: no tiebreaker).
func wmEvent(sec int, tb int, name string) []byte {
	tbField := ""
	if tb >= 0 {
		tbField = fmt.Sprintf(`,"seq":%d`, tb)
	}
	return fmt.Appendf(nil, `{"@timestamp":"2026-01-01T00:00:%02dZ","event":{"category":["process"]},"process":{"name":%q}%s}`, sec, name, tbField)
}

// wmRun feeds evs (references 1..n), flushes, and returns the matches' refs.
func wmRun(t *testing.T, opts Options, evs ...[]byte) (refs [][]uint64, st Stats) {
	t.Helper()
	p, err := Compile([]RuleDef{{ID: "ab", Source: &eql.Source{Text: seqAB}}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := p.NewEngine()
	collect := func(ms []Match) {
		for _, m := range ms {
			refs = append(refs, append([]uint64(nil), m.Refs...))
		}
	}
	for i, raw := range evs {
		ms, _, err := e.Process(raw, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		collect(ms)
	}
	st = e.Stats()
	collect(e.Flush())
	return refs, st
}

func wantRefs(t *testing.T, got [][]uint64, want ...[]uint64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("matches %v, want %v", got, want)
	}
}

// An event exactly AllowedDisorder behind the newest one is not late: it is
// buffered and ordered with an earlier-arrived event of the same timestamp.
// (Treating it as late applies it at once, before that earlier event, and the
// sequence a -> b is lost.)
func TestWatermarkEventExactlyAtAllowedDisorderIsNotLate(t *testing.T) {
	opts := Options{AllowedDisorder: 2 * time.Second}
	refs, st := wmRun(t, opts,
		wmEvent(10, -1, "a"), // buffered (watermark 8s)
		wmEvent(12, -1, "x"), // watermark 10s: releases events older than 10s, none
		wmEvent(10, -1, "b"), // 10s == watermark: not late, buffered after "a" (arrival)
	)
	if st.Late != 0 {
		t.Errorf("late events %d, want 0: 10s is not older than the 10s watermark", st.Late)
	}
	if st.Buffered != 2 {
		t.Errorf("buffered %d, want 2 (a and b wait; x matches no stage)", st.Buffered)
	}
	wantRefs(t, refs, []uint64{1, 3})
}

// One nanosecond older than the watermark is late: applied at once. Here the
// late "b" arrives after "a" was released, so the sequence still matches, and
// the event is counted as late.
func TestWatermarkEventOlderThanWatermarkIsLate(t *testing.T) {
	opts := Options{AllowedDisorder: 2*time.Second - time.Nanosecond}
	refs, st := wmRun(t, opts,
		wmEvent(10, -1, "a"),
		wmEvent(12, -1, "x"), // watermark 10s + 1ns: releases "a"
		wmEvent(10, -1, "b"), // older than the watermark: late
	)
	if st.Late != 1 {
		t.Errorf("late events %d, want 1", st.Late)
	}
	wantRefs(t, refs, []uint64{1, 3})
}

// The buffer releases only events strictly older than the watermark: an
// event at exactly the watermark stays, so a later-arriving event with the
// same timestamp and a smaller tiebreaker is still ordered before it.
// (Releasing it at the watermark applies "b" first and loses a -> b.)
func TestWatermarkReleaseKeepsEventAtWatermark(t *testing.T) {
	opts := Options{AllowedDisorder: 2 * time.Second, TiebreakerField: "seq"}
	refs, st := wmRun(t, opts,
		wmEvent(10, 2, "b"), // buffered
		wmEvent(12, 9, "x"), // watermark 10s: "b" at 10s must stay buffered
		wmEvent(10, 1, "a"), // not late; tiebreaker 1 < 2 orders it before "b"
	)
	if st.Late != 0 || st.Buffered != 2 {
		t.Errorf("late %d buffered %d, want 0 and 2", st.Late, st.Buffered)
	}
	wantRefs(t, refs, []uint64{3, 1})
}

// Equal timestamps and equal tiebreakers fall back to arrival order
// (Ordinal.compareTo's implicit tiebreaker): b then a does not match, a then
// b does.
func TestWatermarkTiebreakerTieUsesArrival(t *testing.T) {
	opts := Options{AllowedDisorder: 2 * time.Second, TiebreakerField: "seq"}
	refs, _ := wmRun(t, opts, wmEvent(10, 1, "b"), wmEvent(10, 1, "a"))
	wantRefs(t, refs)
	refs, _ = wmRun(t, opts, wmEvent(10, 1, "a"), wmEvent(10, 1, "b"))
	wantRefs(t, refs, []uint64{1, 2})
}

// Events without a tiebreaker sort after events with one at the same
// timestamp (Elasticsearch: nulls last), whatever their arrival order.
func TestWatermarkMissingTiebreakerSortsLast(t *testing.T) {
	opts := Options{AllowedDisorder: 2 * time.Second, TiebreakerField: "seq"}
	refs, _ := wmRun(t, opts, wmEvent(10, -1, "b"), wmEvent(10, 5, "a"))
	wantRefs(t, refs, []uint64{2, 1})
}

// FlushIdle releases everything buffered; an event that arrives afterwards
// older than the newest timestamp seen is late and applied at once.
func TestWatermarkFlushIdleThenLate(t *testing.T) {
	p, err := Compile([]RuleDef{{ID: "ab", Source: &eql.Source{Text: seqAB}}}, Options{AllowedDisorder: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := p.NewEngine()
	if _, _, err := e.Process(wmEvent(10, -1, "a"), 1); err != nil {
		t.Fatal(err)
	}
	if ms := e.FlushIdle(); len(ms) != 0 {
		t.Fatalf("flush matched %d", len(ms))
	}
	if st := e.Stats(); st.Buffered != 0 || st.Watermark <= time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC).UnixNano() {
		t.Fatalf("after FlushIdle: buffered %d watermark %d, want 0 and past 10s", st.Buffered, st.Watermark)
	}
	ms, _, err := e.Process(wmEvent(10, -1, "b"), 2) // same second as "a": older than the flushed watermark
	if err != nil {
		t.Fatal(err)
	}
	if e.Stats().Late != 1 {
		t.Errorf("late %d, want 1", e.Stats().Late)
	}
	if len(ms) != 1 || fmt.Sprint(ms[0].Refs) != "[1 2]" {
		t.Errorf("late b: matches %v, want one a->b [1 2]", ms)
	}
}
