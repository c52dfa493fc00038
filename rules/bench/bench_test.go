package bench

import (
	"sync"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// events is the benchmark input: Elastic Defend-like Linux events (~2.5 KB
// each) with a realistic, low rate of attack chains and look-alikes.
var events = sync.OnceValues(func() ([][]byte, error) {
	g, err := gen.New(gen.Config{Seed: 1, Events: 20000, Hosts: 64, AttackRate: 0.002, LookalikeRate: 0.002})
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for {
		b, _, ok := g.Next(nil)
		if !ok {
			return out, nil
		}
		out = append(out, b)
	}
})

func loadEvents(tb testing.TB) [][]byte {
	tb.Helper()
	evs, err := events()
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

func avgSize(evs [][]byte) int64 {
	n := 0
	for _, e := range evs {
		n += len(e)
	}
	return int64(n / len(evs))
}

func seedProgram(tb testing.TB, opts engine.Options) *engine.Program {
	tb.Helper()
	rs, err := rules.Compile(rules.Builtin(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return rs.Program
}

// BenchmarkGoccyValid is the baseline: validating the same events with
// goccy/go-json, the least any JSON reader does.
func BenchmarkGoccyValid(b *testing.B) {
	evs := loadEvents(b)
	b.SetBytes(avgSize(evs))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if !json.Valid(evs[i%len(evs)]) {
			b.Fatal("invalid event")
		}
	}
	reportEvents(b, cpu0)
}

// BenchmarkSeedRules decodes and evaluates the four built-in detections;
// one op is one event.
func BenchmarkSeedRules(b *testing.B) {
	evs := loadEvents(b)
	p := seedProgram(b, engine.Options{})
	b.SetBytes(avgSize(evs))
	b.ReportAllocs()
	e := p.NewEngine()
	j := 0
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if j == len(evs) {
			b.StopTimer()
			e, j = p.NewEngine(), 0
			b.StartTimer()
		}
		if _, _, err := e.Process(evs[j], uint64(i)); err != nil {
			b.Fatal(err)
		}
		j++
	}
	reportEvents(b, cpu0)
}

// reportEvents reports events/s and, where the platform has it, the CPU
// time per event (cpu-ns/op) since start, from cpuTime.
func reportEvents(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if used := cpuTime() - start; start > 0 && used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
