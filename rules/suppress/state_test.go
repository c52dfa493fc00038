package suppress

import (
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules/engine"
)

// TestStateRestoreAndRollback runs the same events three ways — straight,
// with every step's records written to a compacted map and the state
// rebuilt from it at random points, and with every third step aborted
// (rolled back) and processed again — and expects the same outputs: a
// restart or an abort neither reopens nor doubles a window.
func TestStateRestoreAndRollback(t *testing.T) {
	set := compile(t, ruleTOML("process where true", "group_by = [\"host.id\"]\nduration = {value = 30, unit = \"s\"}"))
	rng := rand.New(rand.NewSource(7))
	var events []string
	for i := 0; i < 400; i++ {
		h := []string{"h1", "h2", "h3"}[rng.Intn(3)]
		events = append(events, ev(float64(i)+rng.Float64(), `"host":{"id":"`+h+`"}`))
	}
	want, _ := run(t, set, events)
	if len(want) < 20 {
		t.Fatalf("only %d outputs", len(want))
	}

	e := set.Program.NewEngine()
	s := New(set)
	store := map[string][]byte{} // the compacted state topic
	var got []out
	raws := map[uint64]string{}
	step := func(ms []engine.Match, abort bool) {
		e.Begin()
		s.Begin()
		var outs []Output
		for _, m := range ms {
			doc, id, err := set.Alert(m, func(ref uint64) ([]byte, bool) { r, ok := raws[ref]; return []byte(r), ok }, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			os, _, err := s.Apply(m, doc, id)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, os...)
		}
		outs = append(outs, s.Close(e.Watermark())...)
		if abort {
			s.Rollback()
			return
		}
		for _, r := range s.Pending() {
			if r.Value == nil {
				delete(store, r.Key)
			} else {
				store[r.Key] = r.Value
			}
		}
		s.Commit()
		e.Commit()
		for _, o := range outs {
			got = append(got, reduce(t, o))
		}
	}
	for i, raw := range events {
		raws[uint64(i+1)] = raw
		ms, _, err := e.Process([]byte(raw), uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			// abort: the engine's matches of this event are decided again
			// after the rollback, as the records are consumed again
			step(ms, true)
			ms = append([]engine.Match(nil), ms...)
		}
		step(ms, false)
		if rng.Intn(25) == 0 {
			s = New(set)
			for k, v := range store {
				if stale, err := s.Restore(k, v); err != nil || stale {
					t.Fatalf("restore under the same rules: stale %v, %v", stale, err)
				}
			}
		}
	}
	step(e.Flush(), false)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("with restores and aborts: %d outputs, want %d\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	if s.Open() != 0 || len(store) != 0 {
		t.Fatalf("after the final flush: %d windows open, %d records left", s.Open(), len(store))
	}
}

func TestRestoreDropsWindowsOfChangedRules(t *testing.T) {
	set := compile(t, ruleTOML("process where true", "group_by = [\"host.id\"]\nduration = {value = 30, unit = \"s\"}"))
	s := New(set)
	s.Begin()
	e := set.Program.NewEngine()
	raw := ev(0, `"host":{"id":"h1"}`)
	ms, _, _ := e.Process([]byte(raw), 1)
	doc, id, _ := set.Alert(ms[0], func(uint64) ([]byte, bool) { return []byte(raw), true }, time.Time{})
	if _, dec, err := s.Apply(ms[0], doc, id); err != nil || dec != Opened {
		t.Fatalf("Apply: %v %v", dec, err)
	}
	recs := s.Pending()
	if len(recs) != 1 || recs[0].Value == nil {
		t.Fatalf("Pending: %+v", recs)
	}
	same := New(set)
	if stale, err := same.Restore(recs[0].Key, recs[0].Value); err != nil || stale || same.Open() != 1 {
		t.Fatalf("restore: %v, stale %v, %d open", err, stale, same.Open())
	}
	other := New(compile(t, ruleTOML("process where true", "group_by = [\"host.id\"]\nduration = {value = 60, unit = \"s\"}")))
	if stale, err := other.Restore(recs[0].Key, recs[0].Value); err != nil || !stale || other.Open() != 0 {
		t.Fatalf("restore under another duration: %v, stale %v, %d open; want the window dropped as stale", err, stale, other.Open())
	}
	if _, err := same.Restore(recs[0].Key, recs[0].Value[:20]); err == nil {
		t.Fatal("a truncated record restored without error")
	}
}
