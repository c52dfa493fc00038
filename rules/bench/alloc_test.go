package bench

import (
	"testing"

	"github.com/eqlstream/eqlstream/rules/engine"
)

// noMatch returns the events that no stage of p matches: no event-rule
// match and nothing retained for a sequence.
func noMatch(t *testing.T, p *engine.Program, evs [][]byte) [][]byte {
	t.Helper()
	e := p.NewEngine()
	var out [][]byte
	for i, raw := range evs {
		ms, retained, err := e.Process(raw, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 && !retained {
			out = append(out, raw)
		}
	}
	return out
}

// TestZeroAllocNoMatch asserts that decoding and evaluating an event that
// matches nothing allocates nothing, once the engine is warm.
func TestZeroAllocNoMatch(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	evs := loadEvents(t)
	for _, index := range []bool{true, false} {
		p := seedProgram(t, engine.Options{DisableIndex: !index})
		quiet := noMatch(t, p, evs)
		if len(quiet) < len(evs)/2 {
			t.Fatalf("only %d of %d events match nothing", len(quiet), len(evs))
		}
		e := p.NewEngine()
		for i, raw := range quiet { // warm up: buffers grow to their size
			_, _, _ = e.Process(raw, uint64(i))
		}
		i := 0
		allocs := testing.AllocsPerRun(len(quiet), func() {
			if _, _, err := e.Process(quiet[i%len(quiet)], uint64(i)); err != nil {
				t.Fatal(err)
			}
			i++
		})
		if allocs != 0 {
			t.Errorf("index=%v: %.3f allocations per event that matches nothing, want 0", index, allocs)
		}
	}
}
