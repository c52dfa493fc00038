package engine

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
	toml "github.com/pelletier/go-toml/v2"
)

// benchEvents is the shared event set of the benchmarks and allocation
// tests: Elastic Defend-like Linux events (~2.5 KB each) from internal/gen,
// with a realistic, low rate of attack chains and look-alikes.
var benchEvents = sync.OnceValues(func() ([][]byte, error) {
	return genEvents(1, 20000)
})

func genEvents(seed int64, n int) ([][]byte, error) {
	g, err := gen.New(gen.Config{Seed: seed, Events: n, Hosts: 64, AttackRate: 0.002, LookalikeRate: 0.002})
	if err != nil {
		return nil, err
	}
	out := make([][]byte, 0, n)
	for {
		b, _, ok := g.Next(nil)
		if !ok {
			return out, nil
		}
		out = append(out, b)
	}
}

func loadBenchEvents(tb testing.TB) [][]byte {
	tb.Helper()
	evs, err := benchEvents()
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

// seedDefs reads the built-in detections from ../builtin (the same files
// rules.Builtin embeds; the engine cannot import package rules).
func seedDefs(tb testing.TB) []RuleDef {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("..", "builtin", "*.toml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("built-in rules not found: %v", err)
	}
	var defs []RuleDef
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var raw struct {
			Rule struct {
				RuleID string `toml:"rule_id"`
				Query  string
			}
		}
		if err := toml.Unmarshal(b, &raw); err != nil {
			tb.Fatal(err)
		}
		defs = append(defs, RuleDef{ID: raw.Rule.RuleID, Source: &eql.Source{Name: f, Text: raw.Rule.Query}})
	}
	return defs
}

// linuxDefs returns the corpus rules scoped to Linux (path or "OS: Linux" tag).
func linuxDefs(tb testing.TB) []RuleDef {
	tb.Helper()
	var defs []RuleDef
	for _, r := range loadCorpus(tb) {
		if r.linux {
			defs = append(defs, RuleDef{ID: r.id, Source: &eql.Source{Name: r.path, Text: r.query}})
		}
	}
	return defs
}

func compileDefs(tb testing.TB, defs []RuleDef, opts Options) *Program {
	tb.Helper()
	p, err := Compile(defs, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// benchProcess runs b.N events through a fresh engine per pass over evs;
// one op is one event (decode + evaluate).
func benchProcess(b *testing.B, p *Program, evs [][]byte) {
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

// benchDecode decodes b.N events with the program's schema, evaluating none.
func benchDecode(b *testing.B, p *Program, evs [][]byte) {
	b.SetBytes(avgSize(evs))
	b.ReportAllocs()
	e := p.NewEngine()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := e.decode(evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, cpu0)
}

// BenchmarkDecodeOnly decodes with the schema of each program and evaluates
// nothing: the decode share of BenchmarkLinuxCorpusRules (same program).
func BenchmarkDecodeOnly(b *testing.B) {
	evs := loadBenchEvents(b)
	b.Run("seed", func(b *testing.B) { benchDecode(b, compileDefs(b, seedDefs(b), Options{}), evs) })
	b.Run("linux", func(b *testing.B) { benchDecode(b, compileDefs(b, linuxDefs(b), Options{}), evs) })
}

// BenchmarkLinuxCorpusRules decodes and evaluates every Linux-scoped corpus
// rule. index=off is the differential baseline (every rule on every event).
func BenchmarkLinuxCorpusRules(b *testing.B) {
	evs := loadBenchEvents(b)
	defs := linuxDefs(b)
	b.Run("index=on", func(b *testing.B) { benchProcess(b, compileDefs(b, defs, Options{}), evs) })
	b.Run("index=off", func(b *testing.B) { benchProcess(b, compileDefs(b, defs, Options{DisableIndex: true}), evs) })
	// with the built-in ECS types, as the processor runs by default
	b.Run("types=ecs", func(b *testing.B) { benchProcess(b, compileDefs(b, defs, Options{Types: fieldtype.Builtin()}), evs) })
}

// BenchmarkSeedRulesEngine is BenchmarkSeedRules (package rules/bench) from
// inside the engine, next to BenchmarkDecodeOnly/seed.
func BenchmarkSeedRulesEngine(b *testing.B) {
	benchProcess(b, compileDefs(b, seedDefs(b), Options{}), loadBenchEvents(b))
}

func TestLinuxCorpusCount(t *testing.T) {
	defs := linuxDefs(t)
	p := compileDefs(t, defs, Options{})
	t.Logf("%d Linux corpus rules, %d fields", len(p.Rules()), len(p.Fields()))
	if len(defs) < 300 {
		t.Errorf("expected ~350 Linux-scoped corpus rules, found %d", len(defs))
	}
}

// reportEvents reports events/s and, where the platform has it, the CPU
// time per event (cpu-ns/op) since start, from cpuTime.
func reportEvents(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if used := cpuTime() - start; start > 0 && used > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
