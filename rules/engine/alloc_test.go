package engine

import (
	"runtime"
	"runtime/debug"
	"sort"
	"testing"
)

// TestZeroAllocNoMatch asserts that decoding and evaluating an event that
// matches nothing allocates nothing once the engine is warm, for the Linux
// corpus rules and the built-in detections, with the index on and off.
func TestZeroAllocNoMatch(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	evs := loadBenchEvents(t)
	sets := []struct {
		name string
		defs []RuleDef
	}{{"seed", seedDefs(t)}, {"linux", linuxDefs(t)}}
	for _, set := range sets {
		for _, index := range []bool{true, false} {
			p := compileDefs(t, set.defs, Options{DisableIndex: !index})
			e := p.NewEngine()
			var quiet [][]byte
			for i, raw := range evs {
				ms, retained, err := e.Process(raw, uint64(i))
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) == 0 && !retained {
					quiet = append(quiet, raw)
				}
			}
			if len(quiet) < len(evs)/10 {
				t.Fatalf("%s: only %d of %d events match nothing", set.name, len(quiet), len(evs))
			}
			i := 0
			allocs := testing.AllocsPerRun(len(quiet), func() {
				if _, _, err := e.Process(quiet[i%len(quiet)], uint64(i)); err != nil {
					t.Fatal(err)
				}
				i++
			})
			if allocs != 0 {
				t.Errorf("%s, index=%v: %.4f allocations per event that matches nothing, want 0", set.name, index, allocs)
			}
		}
	}
}

// TestZeroAllocNoMatchInOrder counts allocations exactly, event by event, on
// an in-order pass over the benchmark stream (so the watermark advances and
// expiry runs as it does online), unlike testing.AllocsPerRun, which rounds
// the mean down and would pass one allocation in two events. The first half
// of the stream warms the engine's scratch buffers up; in the second half,
// every event that matches nothing and is not retained must allocate nothing.
func TestZeroAllocNoMatchInOrder(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	evs := loadBenchEvents(t)
	sets := []struct {
		name string
		defs []RuleDef
	}{{"seed", seedDefs(t)}, {"linux", linuxDefs(t)}}
	// A garbage collection cycle running during a measured event allocates
	// for itself and shows up in Mallocs: collect first, then keep the
	// collector off while counting.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for _, set := range sets {
		for _, index := range []bool{true, false} {
			p := compileDefs(t, set.defs, Options{DisableIndex: !index})
			// Mallocs counts the whole process: a runtime or test-framework
			// goroutine can allocate while an event is measured. The engine
			// is deterministic, so the stream runs twice on fresh engines and
			// an event counts as allocating only when it allocates in both.
			a, b := allocPass(t, p, evs), allocPass(t, p, evs)
			if a.quiet < (len(evs)/2)/10 {
				t.Fatalf("%s: only %d of %d events match nothing", set.name, a.quiet, len(evs)/2)
			}
			allocating, allocs := 0, uint64(0)
			var first []int
			for i, n := range a.byEvent {
				if m, ok := b.byEvent[i]; ok {
					allocating++
					allocs += min(n, m)
					if len(first) < 5 {
						first = append(first, i)
					}
				}
			}
			t.Logf("%s, index=%v: %d quiet events in order, %d allocating in both passes (%d allocations; in one pass only: %d and %d events); %d more released buffered hits (%d allocations for those hits)",
				set.name, index, a.quiet, allocating, allocs, len(a.byEvent), len(b.byEvent), a.released, a.releasedAllocs)
			if allocating > 0 {
				sort.Ints(first)
				t.Errorf("%s, index=%v: %d of %d in-order events that match nothing allocated (%d allocations; first at events %v), want 0",
					set.name, index, allocating, a.quiet, allocs, first)
			}
		}
	}
}

type allocCounts struct {
	quiet, released int
	releasedAllocs  uint64
	byEvent         map[int]uint64 // quiet events that allocated: index → mallocs
}

// allocPass runs evs in order through a fresh engine; the first half warms
// its scratch buffers up, and in the second half it counts the mallocs of
// every event that matches nothing, is not retained and releases nothing.
func allocPass(t *testing.T, p *Program, evs [][]byte) allocCounts {
	t.Helper()
	e := p.NewEngine()
	runtime.GC()
	warm := len(evs) / 2
	c := allocCounts{byEvent: map[int]uint64{}}
	var ms0, ms1 runtime.MemStats
	for i, raw := range evs {
		var before Stats
		if i >= warm {
			before = e.Stats()
			runtime.ReadMemStats(&ms0)
		}
		ms, retained, err := e.Process(raw, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if i < warm {
			continue
		}
		runtime.ReadMemStats(&ms1)
		if len(ms) > 0 || retained {
			continue
		}
		if after := e.Stats(); after.Buffered < before.Buffered {
			// the watermark released earlier events' stage hits: their
			// partial matches are allocated now, on their account, not
			// this event's
			c.released++
			c.releasedAllocs += ms1.Mallocs - ms0.Mallocs
			continue
		}
		c.quiet++
		if n := ms1.Mallocs - ms0.Mallocs; n > 0 {
			c.byEvent[i] = n
		}
	}
	return c
}
