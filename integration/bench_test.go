package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkEndToEnd measures one processor on a real broker, per iteration
// with fresh topics and group:
//
//   - events/s: EQLSTREAM_BENCH_EVENTS (default 100,000) events over 200
//     hosts are produced before the processor starts; the time is from the
//     processor's start to the group's committed offsets reaching the input
//     end (startup, group join, evaluation, transactions);
//   - cpu_us/event: the processor's CPU time (process_cpu_seconds_total)
//     until it caught up, per backlog event; engine_cpu_us/event: the CPU
//     time of `processor eval` (the same engine and rules, offline, from a
//     file) over the same events, and cpu_ratio the quotient of the two;
//   - copy_events/s, copy_cpu_us/event: the ceiling, a plain franz-go
//     exactly-once copy (GroupTransactSession, read_committed, one
//     transaction per poll, no rules) of the same input topic to a new
//     topic, timed the same way (its CPU is this test process's, polling
//     included); of_ceiling is events/s over copy_events/s;
//   - EQLSTREAM_BENCH_INSTANCES (default 1) processors in one group (and
//     as many copy sessions) share the work;
//   - with EQLSTREAM_BENCH_BASELINE_BIN (another processor binary, e.g. one
//     built from an older commit), the same backlog phase again with it on
//     the same input (own group and outputs): base_events/s,
//     base_cpu_us/event, so a change is measured within one run;
//   - p50_ms, p99_ms: then events arrive at a steady EQLSTREAM_BENCH_RATE
//     (default 2,000/s) for EQLSTREAM_BENCH_LIVE_SECONDS (default 5), with
//     more attack chains so there are enough alerts, and the quantiles come
//     from the processor's eqlstream_event_to_alert_seconds histogram
//     (record timestamp of the last matched event to the commit of its
//     alert; buckets double from 5ms, quantiles interpolated within a
//     bucket as histogram_quantile does) over that phase only;
//   - processor_cpus: the processor's CPU seconds until it caught up, per
//     second of the backlog phase;
//
// at --commit-interval 100ms. The output topics are created before the
// processor starts, so the time does not include topic creation.
func BenchmarkEndToEnd(b *testing.B) {
	e := newEnv(b)
	events := envInt("EQLSTREAM_BENCH_EVENTS", 100_000)
	rate := envInt("EQLSTREAM_BENCH_RATE", 2000)
	liveSeconds := envInt("EQLSTREAM_BENCH_LIVE_SECONDS", 5)
	baseBin := os.Getenv("EQLSTREAM_BENCH_BASELINE_BIN")
	instances := envInt("EQLSTREAM_BENCH_INSTANCES", 1)
	dir := b.TempDir()
	backlog, total := genEvents(b, dir, "backlog.ndjson", true, "--seed", "606", "--events", itoa(events), "--hosts", "200",
		"--attack-rate", "0.02", "--lookalike-rate", "0.03", "--disorder", "500ms")
	start := newestTimestamp(b, backlog).Add(time.Hour).UTC().Format(time.RFC3339)
	live, liveTotal := genEvents(b, dir, "live.ndjson", false, "--seed", "607", "--events", itoa(rate*liveSeconds), "--hosts", "200",
		"--attack-rate", "0.3", "--lookalike-rate", "0.03", "--disorder", "500ms", "--start", start)
	liveLines := readLines(b, live)

	var elapsed, copyElapsed, baseElapsed time.Duration
	var cpu, engineCPU, copyCPU, baseCPU float64 // CPU seconds
	var hist histogram
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		n := newNames(b)
		e.cleanupTopics(n)
		e.createTopic(n.Input, partitions)
		e.createOutputs(n)
		e.produceFile(backlog, n.Input)
		engineCPU += evalCPU(b, backlog)
		if baseBin != "" {
			d, c := e.backlogRun(baseBin, fmt.Sprintf("base-%d", i), n, "-base", instances)
			baseElapsed += d
			baseCPU += c
		}
		d, c := e.copyRun(n, instances)
		copyElapsed += d
		copyCPU += c
		b.StartTimer()
		ps := e.startInstances(processorBin, fmt.Sprintf("bench-%d", i), n, instances)
		done := e.waitCaughtUp(n, 10*time.Minute, ps...)
		b.StopTimer()
		elapsed += done.Sub(ps[0].started)

		addrs := make([]string, len(ps))
		befores := make([]histogram, len(ps))
		for j, p := range ps {
			addrs[j] = p.metricsAddr(10 * time.Second)
			if m, err := p.scrape(addrs[j]); err == nil {
				cpu += metricValue(m, "process_cpu_seconds_total")
			}
			befores[j] = e.scrapeHistogram(p, addrs[j], "eqlstream_event_to_alert_seconds")
		}
		e.producePacedLines(n.Input, liveLines, rate)
		e.waitCaughtUp(n, 5*time.Minute, ps...)
		for j, p := range ps {
			hist.add(e.scrapeHistogram(p, addrs[j], "eqlstream_event_to_alert_seconds").sub(befores[j]))
		}
		for _, p := range ps {
			if code, took := p.terminate(sigtermBound); code != 0 {
				b.Fatalf("%s exited with code %d after SIGTERM (in %s)", p.name, code, took)
			}
		}
	}
	perEvent := func(sec float64) float64 { return sec * 1e6 / float64(total*b.N) }
	eps := float64(total*b.N) / elapsed.Seconds()
	copyEPS := float64(total*b.N) / copyElapsed.Seconds()
	b.ReportMetric(eps, "events/s")
	b.ReportMetric(perEvent(cpu), "cpu_us/event")
	b.ReportMetric(perEvent(engineCPU), "engine_cpu_us/event")
	b.ReportMetric(cpu/engineCPU, "cpu_ratio")
	b.ReportMetric(copyEPS, "copy_events/s")
	b.ReportMetric(perEvent(copyCPU), "copy_cpu_us/event")
	b.ReportMetric(eps/copyEPS, "of_ceiling")
	if baseBin != "" {
		b.ReportMetric(float64(total*b.N)/baseElapsed.Seconds(), "base_events/s")
		b.ReportMetric(perEvent(baseCPU), "base_cpu_us/event")
	}
	b.ReportMetric(hist.quantile(0.50)*1000, "p50_ms")
	b.ReportMetric(hist.quantile(0.99)*1000, "p99_ms")
	b.ReportMetric(hist.count/float64(b.N), "live_alerts")
	b.ReportMetric(cpu/elapsed.Seconds(), "processor_cpus")
	b.Logf("%d instance(s); %d backlog events per run in %s on average (copy ceiling %s); CPU %.2f µs/event, engine alone %.2f (%.2f×); latency over %d live events at %d/s: %.0f alerts, p50 %.1fms, p99 %.1fms",
		instances, total, (elapsed / time.Duration(b.N)).Round(time.Millisecond), (copyElapsed / time.Duration(b.N)).Round(time.Millisecond),
		perEvent(cpu), perEvent(engineCPU), cpu/engineCPU, liveTotal, rate, hist.count/float64(b.N),
		hist.quantile(0.5)*1000, hist.quantile(0.99)*1000)
}

// startInstances starts count processors of binary bin in the group of n,
// one after the other (instance ids name-0, name-1, ...).
func (e *env) startInstances(bin, name string, n names, count int) []*proc {
	e.t.Helper()
	ps := make([]*proc, count)
	for j := range ps {
		id := fmt.Sprintf("%s-%d", name, j)
		ps[j] = e.startProcessorBin(bin, id, e.runArgs(n, id, "--commit-interval", "100ms")...)
	}
	return ps
}

// backlogRun runs count instances of processor binary bin over the input
// of n with their own group and output topics (names suffixed with suffix)
// until they caught up, and returns the time from the first start and
// their CPU seconds.
func (e *env) backlogRun(bin, name string, n names, suffix string, count int) (time.Duration, float64) {
	e.t.Helper()
	m := names{Input: n.Input, Alerts: n.Alerts + suffix, DLQ: n.DLQ + suffix, State: n.Group + suffix + "-state", Group: n.Group + suffix}
	e.cleanupTopics(names{Input: n.Input, Alerts: m.Alerts, DLQ: m.DLQ, State: m.State, Group: m.Group})
	e.createOutputs(m)
	ps := e.startInstances(bin, name, m, count)
	done := e.waitCaughtUp(m, 10*time.Minute, ps...)
	var cpu float64
	for _, p := range ps {
		if text, err := p.scrape(p.metricsAddr(10 * time.Second)); err == nil {
			cpu += metricValue(text, "process_cpu_seconds_total")
		}
	}
	for _, p := range ps {
		if code, took := p.terminate(sigtermBound); code != 0 {
			e.t.Fatalf("%s exited with code %d after SIGTERM (in %s)", p.name, code, took)
		}
	}
	return done.Sub(ps[0].started), cpu
}

// evalCPU is the CPU time of `processor eval` over path (alerts discarded).
func evalCPU(t testing.TB, path string) float64 {
	t.Helper()
	cmd := exec.Command(processorBin, "eval", "--output", os.DevNull, path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("processor eval: %v\n%s", err, out)
	}
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

// copyRun is the ceiling: a plain exactly-once copy of n.Input to a new
// topic with franz-go's GroupTransactSession (one transaction per poll) in
// count sessions of one group, timed from the first client's creation until
// the group's committed offsets reach the input end. It returns the time
// and this process's CPU seconds meanwhile.
func (e *env) copyRun(n names, count int) (time.Duration, float64) {
	e.t.Helper()
	m := names{Input: n.Input, Group: n.Group + "-copy", Alerts: n.Input + "-copy", DLQ: n.Input + "-copy-unused", State: n.Input + "-copy-unused2"}
	e.cleanupTopics(m)
	e.createTopic(m.Alerts, partitions)
	cpu0, t0 := processCPU(), time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, count)
	sessions := make([]*kgo.GroupTransactSession, count)
	for j := range sessions {
		sess, err := kgo.NewGroupTransactSession(append(e.clientOpts(),
			kgo.ConsumerGroup(m.Group), kgo.ConsumeTopics(n.Input),
			kgo.TransactionalID(fmt.Sprintf("%s-%d", m.Group, j)), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets(), kgo.Balancers(kgo.CooperativeStickyBalancer()),
			kgo.DefaultProduceTopic(m.Alerts), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
		if err != nil {
			cancel()
			e.t.Fatal(err)
		}
		sessions[j] = sess
		go func() { errc <- copyLoop(ctx, sess) }()
	}
	done := e.waitCaughtUp(m, 10*time.Minute)
	cpu := processCPU() - cpu0
	cancel()
	for range sessions {
		if err := <-errc; err != nil {
			e.t.Fatalf("copy: %v", err)
		}
	}
	for _, sess := range sessions {
		sess.Close()
	}
	return done.Sub(t0), cpu
}

func copyLoop(ctx context.Context, sess *kgo.GroupTransactSession) error {
	for {
		fs := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return err
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, nil)
		})
		if _, err := sess.End(ctx, kgo.TryCommit); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// createOutputs creates the alerts, dead-letter and (compacted) state topics
// as the processor would.
func (e *env) createOutputs(n names) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	compact := "compact"
	for _, topic := range n.outputs() {
		var cfg map[string]*string
		if topic == n.State {
			cfg = map[string]*string{"cleanup.policy": &compact}
		}
		e.createTopicConfig(ctx, topic, partitions, cfg)
	}
}

func newestTimestamp(t testing.TB, path string) time.Time {
	t.Helper()
	var newest time.Time
	for _, line := range readLines(t, path) {
		h, err := parseHead(line)
		if err != nil {
			t.Fatal(err)
		}
		if ts, err := time.Parse(time.RFC3339Nano, h.Timestamp); err == nil && ts.After(newest) {
			newest = ts
		}
	}
	return newest
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// producePacedLines produces the events keyed by host.id at a steady rate
// (in 10ms ticks) and waits until all are acknowledged.
func (e *env) producePacedLines(topic string, lines [][]byte, rate int) {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	perTick := max(rate/100, 1)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(lines); {
		<-tick.C
		for j := 0; j < perTick && i < len(lines); j, i = j+1, i+1 {
			cl.Produce(ctx, &kgo.Record{Key: []byte(hostOf(e.t, lines[i])), Value: lines[i]}, nil)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		e.t.Fatalf("producing live events: %v", err)
	}
}

// histogram is a Prometheus histogram: cumulative counts by upper bound.
type histogram struct {
	bounds []float64 // ascending, +Inf last
	counts []float64 // cumulative
	count  float64
}

var bucketRe = regexp.MustCompile(`le="([^"]+)"\} (\S+)`)

func (e *env) scrapeHistogram(p *proc, addr, name string) histogram {
	e.t.Helper()
	text, err := p.scrape(addr)
	if err != nil {
		e.t.Fatalf("scraping %s: %v", addr, err)
	}
	type bucket struct{ le, n float64 }
	var bs []bucket
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"_bucket{") {
			continue
		}
		m := bucketRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		le, err1 := strconv.ParseFloat(m[1], 64) // "+Inf" parses as +Inf
		n, err2 := strconv.ParseFloat(m[2], 64)
		if err1 == nil && err2 == nil {
			bs = append(bs, bucket{le, n})
		}
	}
	if len(bs) == 0 {
		e.t.Fatalf("no %s_bucket samples on %s", name, addr)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	var h histogram
	for _, b := range bs {
		h.bounds = append(h.bounds, b.le)
		h.counts = append(h.counts, b.n)
	}
	h.count = h.counts[len(h.counts)-1]
	return h
}

func (h histogram) sub(o histogram) histogram {
	out := histogram{bounds: h.bounds, counts: make([]float64, len(h.counts)), count: h.count - o.count}
	for i := range h.counts {
		out.counts[i] = h.counts[i]
		if i < len(o.counts) {
			out.counts[i] -= o.counts[i]
		}
	}
	return out
}

func (h *histogram) add(o histogram) {
	if h.bounds == nil {
		h.bounds, h.counts = o.bounds, make([]float64, len(o.counts))
	}
	for i := range o.counts {
		h.counts[i] += o.counts[i]
	}
	h.count += o.count
}

// quantile interpolates linearly within the bucket holding the q-th
// observation, like PromQL's histogram_quantile; NaN without observations.
func (h histogram) quantile(q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	rank := q * h.count
	for i, c := range h.counts {
		if c < rank {
			continue
		}
		if math.IsInf(h.bounds[i], 1) {
			return h.bounds[max(i-1, 0)]
		}
		lo, prev := 0.0, 0.0
		if i > 0 {
			lo, prev = h.bounds[i-1], h.counts[i-1]
		}
		if c == prev {
			return h.bounds[i]
		}
		return lo + (h.bounds[i]-lo)*(rank-prev)/(c-prev)
	}
	return h.bounds[len(h.bounds)-1]
}
