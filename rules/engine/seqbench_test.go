package engine

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/eqlstream/eqlstream/rules/eql"
)

// A 2-stage sequence joined by a key that is distinct per partial match.
const seqQuery = `sequence by host.id with maxspan=10h
  [process where process.name == "a"]
  [process where process.name == "b"]`

const seqT0 = 1767225600000 // 2026-01-01T00:00:00Z in ms

// appendSeqEvent appends a small event at seqT0+ms (epoch milliseconds)
// for stage name ("a" or "b") and join key k.
func appendSeqEvent(dst []byte, ms int64, name string, k int) []byte {
	dst = append(dst, `{"@timestamp":`...)
	dst = strconv.AppendInt(dst, seqT0+ms, 10)
	dst = append(dst, `,"event":{"category":["process"]},"process":{"name":"`...)
	dst = append(dst, name...)
	dst = append(dst, `"},"host":{"id":"k`...)
	dst = strconv.AppendInt(dst, int64(k), 10)
	return append(dst, `"}}`...)
}

func seqProgram(tb testing.TB) *Program {
	return compileDefs(tb, []RuleDef{{ID: "seq", Source: &eql.Source{Text: seqQuery}}}, Options{MaxStates: 4 << 20})
}

// fillPartials creates n pending partial matches (stage 1 hits with keys
// 0..n-1, one ms apart) and applies every buffered hit.
func fillPartials(tb testing.TB, e *Engine, n int) {
	tb.Helper()
	var buf []byte
	for k := 0; k < n; k++ {
		buf = appendSeqEvent(buf[:0], int64(k), "a", k)
		if _, _, err := e.Process(buf, uint64(k)); err != nil {
			tb.Fatal(err)
		}
	}
	// Release the reorder buffer without expiring anything.
	e.Advance((seqT0 + int64(n)) * 1e6)
	if got := e.Stats().LiveStates; got != n {
		tb.Fatalf("live states = %d, want %d", got, n)
	}
}

// TestStateBytesPerPartial measures the heap held per pending partial match
// of a 2-stage sequence with 1M distinct join keys.
func TestStateBytesPerPartial(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("1M partial matches: skipped in -short and -race runs")
	}
	const n = 1_000_000
	p := seqProgram(t)
	e := p.NewEngine()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	fillPartials(t, e, n)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	after := ms.HeapAlloc
	per := float64(int64(after)-int64(before)) / n
	t.Logf("%.1f bytes per pending partial match (%d partials, heap %d -> %d)", per, n, before, after)
	runtime.KeepAlive(e)
	// The target is 128 bytes; a partial costs ~195: a 64-byte map
	// slot (key and pointer-free value) at the map's load factor, its refs
	// in the state's arena, and an expiry queue entry. This guards the
	// arena (~228 bytes before it) against regressions.
	if per > 210 {
		t.Errorf("%.1f bytes per pending partial match, want <= 210 (target 128)", per)
	}
}

// BenchmarkSequenceStep1M steps a 2-stage sequence with 1M live partial
// matches: each op is one event (decode included), alternately completing
// the oldest partial (stage 2) and starting a new one (stage 1), so about
// 1M partials stay live.
func BenchmarkSequenceStep1M(b *testing.B) {
	const n = 1_000_000
	p := seqProgram(b)
	e := p.NewEngine()
	fillPartials(b, e, n)
	const batch = 1 << 16
	evs := make([][]byte, batch)
	fill := func(from int) {
		for j := range evs {
			i := from + j
			ms := int64(n + i)
			if i%2 == 0 {
				evs[j] = appendSeqEvent(evs[j][:0], ms, "b", i/2)
			} else {
				evs[j] = appendSeqEvent(evs[j][:0], ms, "a", n+i/2)
			}
		}
	}
	fill(0)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		j := i % batch
		if j == 0 && i > 0 {
			b.StopTimer()
			fill(i)
			b.StartTimer()
		}
		if _, _, err := e.Process(evs[j], uint64(n+i)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// CPU time (garbage collection included) is steadier than wall time on
	// a loaded machine; it includes the refills of the event batch.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if live := e.Stats().LiveStates; live < n-4096 || live > n+4096 {
		b.Fatalf("live states = %d, want about %d", live, n)
	}
}
