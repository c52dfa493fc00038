//go:build linux

package partition

// Scale of a partition's state: restoring a partition that holds 1M
// pending partial matches (BenchmarkRestore1M), and the memory a flood of
// first stages with distinct keys may take under --max-states
// (TestFloodEvictsAtMaxStates, BenchmarkFloodRSS).

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// floodRule is a 2-stage sequence joined by host.id: every "a" event with a
// new host.id opens a partial match that waits up to 10h for a "b".
const floodRule = `[rule]
name = "flood"
rule_id = "flood"
description = "a then b on the same host"
risk_score = 21
severity = "low"
type = "eql"
language = "eql"
query = '''
sequence by host.id with maxspan=10h
  [process where process.name == "a"]
  [process where process.name == "b"]
'''
`

func floodSet(tb testing.TB, maxStates int) *rules.RuleSet {
	tb.Helper()
	r, err := rules.ParseTOML("flood.toml", []byte(floodRule))
	if err != nil {
		tb.Fatal(err)
	}
	set, err := rules.Compile([]*rules.Rule{r}, engine.Options{AllowedDisorder: time.Second, MaxStates: maxStates})
	if err != nil {
		tb.Fatal(err)
	}
	return set
}

// floodEvent appends an "a" event of host k at t0 + k ms.
func floodEvent(dst []byte, k int) []byte {
	dst = append(dst, `{"@timestamp":`...)
	dst = strconv.AppendInt(dst, 1767225600000+int64(k), 10)
	dst = append(dst, `,"event":{"category":["process"]},"process":{"name":"a"},"host":{"id":"host-`...)
	dst = strconv.AppendInt(dst, int64(k), 10)
	return append(dst, `"}}`...)
}

// flood processes n first-stage events with distinct hosts, committing a
// transaction every txn events as the pipeline does, and releases the
// reorder buffer at the end. It returns the state records of the last
// transaction.
func flood(tb testing.TB, p *Processor, n, txn int) []StateRecord {
	tb.Helper()
	var buf []byte
	var recs []StateRecord
	for k := 0; k < n; k++ {
		if !p.Begun() {
			p.Begin()
		}
		buf = floodEvent(buf[:0], k)
		if _, _, err := p.Engine.Process(buf, uint64(k)); err != nil {
			tb.Fatal(err)
		}
		p.Next = int64(k) + 1
		if k == n-1 {
			p.Engine.Advance((1767225600000 + int64(n)) * 1e6)
		}
		if (k+1)%txn == 0 || k == n-1 {
			recs = p.PendingState()
			p.Committed()
		}
	}
	return recs
}

// TestFloodEvictsAtMaxStates: a flood of first stages with distinct keys
// never holds more than MaxStates partial matches; every one beyond is
// evicted (oldest first) and counted.
func TestFloodEvictsAtMaxStates(t *testing.T) {
	const n, maxStates = 10_000, 2_500
	p := New(tp, floodSet(t, maxStates), 0)
	flood(t, p, n, 1000)
	st := p.Engine.Stats()
	if st.LiveStates != maxStates {
		t.Errorf("live states = %d, want %d (MaxStates)", st.LiveStates, maxStates)
	}
	if st.Evicted != n-maxStates {
		t.Errorf("evicted = %d, want %d", st.Evicted, n-maxStates)
	}
}

// BenchmarkRestore1M restores a partition holding 1M pending partial
// matches from its state records (what the pipeline reads from the state
// topic; reading them from Kafka is not included): restore_s per restore
// and the records' MB/s.
func BenchmarkRestore1M(b *testing.B) {
	const n = 1_000_000
	set := floodSet(b, 2*n)
	// one transaction holding every group: the records a compacted state
	// topic holds for this partition
	recs := flood(b, New(tp, set, 0), n, n)
	size := 0
	for _, r := range recs {
		size += len(r.Key) + len(r.Value)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		rs := NewRestorer(tp)
		for _, r := range recs {
			rs.Add(r.Key, r.Value)
		}
		p, err := rs.Build(set, n)
		if err != nil {
			b.Fatal(err)
		}
		if live := p.Engine.Stats().LiveStates; live != n {
			b.Fatalf("restored %d live states, want %d", live, n)
		}
	}
	b.StopTimer()
	// CPU time (GC included) beside wall time: on a loaded machine the wall
	// time says more about the other processes
	sec := b.Elapsed().Seconds() / float64(b.N)
	cpu := (cpuSeconds() - cpu0) / float64(b.N)
	b.ReportMetric(sec, "restore_s")
	b.ReportMetric(cpu, "restore_cpu_s")
	b.ReportMetric(float64(size)/1e6/sec, "MB/s")
	b.ReportMetric(float64(size)/1e6/cpu, "MB/cpu_s")
	b.ReportMetric(float64(len(recs)), "records")
	b.ReportMetric(float64(size)/1e6, "MB")
}

// BenchmarkFloodRSS floods a partition with EQLSTREAM_BENCH_STATES (default
// 1M) distinct first stages at that MaxStates and reports the resident set
// and the live heap it adds per million states (after a GC), and the
// evictions when the flood goes on for as many events again.
func BenchmarkFloodRSS(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("EQLSTREAM_BENCH_STATES")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		runtime.GC()
		rss0, heap0 := rssBytes(b), heapBytes()
		p := New(tp, floodSet(b, n), 0)
		flood(b, p, 2*n, 10_000)
		runtime.GC()
		rss1, heap1 := rssBytes(b), heapBytes()
		st := p.Engine.Stats()
		if st.LiveStates != n || st.Evicted != uint64(n) {
			b.Fatalf("live states %d, evicted %d; want %d and %d", st.LiveStates, st.Evicted, n, n)
		}
		b.ReportMetric(float64(rss1-rss0)/1e6*1e6/float64(n), "RSS_MB/Mstates")
		b.ReportMetric(float64(heap1-heap0)/float64(n), "heap_B/state")
		b.ReportMetric(float64(st.Evicted), "evicted")
		runtime.KeepAlive(p)
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func heapBytes() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// rssBytes is the process's resident set (VmRSS); 0 where /proc is missing.
func rssBytes(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := bytes.Fields(line); len(f) == 3 && string(f[0]) == "VmRSS:" {
			kb, _ := strconv.ParseInt(string(f[1]), 10, 64)
			return kb << 10
		}
	}
	return 0
}
