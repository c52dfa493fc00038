package engine

import "testing"

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
