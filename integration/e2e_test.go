package integration

import (
	"context"
	"sort"
	"strconv"
	"testing"
	"time"
)

// sigtermBound is how long a processor may take to exit after SIGTERM: it
// ends (commits) its open transaction and leaves the group.
const sigtermBound = 15 * time.Second

// genArgs are the generator settings shared by the tests: Elastic Defend–like
// events over 60 hosts with attack chains, look-alikes and 500ms of
// per-host timestamp disorder.
func genArgs(seed string, events int) []string {
	return []string{"--seed", seed, "--events", itoa(events), "--hosts", "60",
		"--attack-rate", "0.02", "--lookalike-rate", "0.03", "--disorder", "500ms"}
}

// TestEndToEndMatchesEval is the plain run: the whole input, one processor.
// The input has no trailer and ends with the event that completes a
// sequence, so that match is still in its partition's reorder buffer when
// the input ends: only the idle flush (--idle-flush 1s, a transaction of its
// own, as in production when a stream goes quiet) can release it, as eval
// does at the end of its input.
func TestEndToEndMatchesEval(t *testing.T) {
	e := newEnv(t)
	n := e.names
	generated, _ := genEvents(t, t.TempDir(), "events.ndjson", false, genArgs("101", 20000)...)
	events, total, last := cutAfterLastSequence(t, generated)
	want := evalAlerts(t, events)
	if len(want) == 0 {
		t.Fatal("processor eval found no alerts: the generator settings leave nothing to compare")
	}
	if want[len(want)-1].ID != last.ID {
		t.Fatalf("eval's last alert is %s, want the sequence the input ends with, %s", want[len(want)-1], last)
	}
	e.createTopic(n.Input, partitions)
	e.produceFile(events, n.Input)

	p := e.startProcessor("processor", e.runArgs(n, "it-e2e", "--idle-flush", "1s")...)
	caughtUp := e.waitCaughtUp(n, 3*time.Minute, p)
	t.Logf("%d events processed: committed offsets reached the input end %s after the processor started",
		total, caughtUp.Sub(p.started).Round(time.Millisecond))
	// The idle flush commits after the input offsets are at the end: wait
	// until the outputs have not moved for longer than --idle-flush.
	e.waitQuiet(3*time.Second, time.Minute, p, n.Alerts, n.State)

	got := topicAlerts(t, e.readCommitted(n.Alerts, time.Minute))
	if len(got) == 0 {
		t.Errorf("no alerts on %s (eval has %d)", n.Alerts, len(want))
	}
	checkExactlyOnce(t, want, got)
	// Alerts of an idle flush have no triggering record, so they are not in
	// the latency histogram: the difference counts them.
	if m, err := p.scrape(p.metricsAddr(10 * time.Second)); err != nil {
		t.Errorf("scraping metrics: %v", err)
	} else {
		var out float64
		for _, v := range metricByLabel(m, "eqlstream_alerts_out_total", "rule_id") {
			out += v
		}
		timed := metricValue(m, "eqlstream_event_to_alert_seconds_count")
		t.Logf("alerts committed: %.0f, of which %.0f by the idle flush", out, out-timed)
		if out-timed < 1 {
			t.Errorf("no alert came from the idle flush (alerts_out_total %.0f, event_to_alert_seconds_count %.0f): the last sequence %s was not released by it", out, timed, last)
		}
	}
	checkPerHostOrder(t, want, got)
	if dl := e.readCommitted(n.DLQ, time.Minute); len(dl) > 0 {
		h, _ := header(dl[0], "eqlstream.error.reason")
		t.Errorf("%d dead letters for valid generated input; the first (%s): %.300s", len(dl), h, dl[0].Value)
	}
	if code, took := p.terminate(sigtermBound); code != 0 {
		t.Errorf("processor exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}

// faultArgs are the extra flags of the fault tests: no idle flush, so the
// output is a function of the input alone and not of wall-clock pauses (a
// stall of the loaded machine longer than --idle-flush would release a
// partition's reorder buffer early and count later events as late); the
// trailer decides the last sequences instead.
var faultArgs = []string{"--idle-flush=-1s"}

// TestRestartSIGTERMAndKill9: one instance id, three runs: SIGTERM after the
// first alerts commit, a restart that is killed with SIGKILL while behind a
// live stream, and a restart that fences it and drains.
func TestRestartSIGTERMAndKill9(t *testing.T) {
	e := newEnv(t)
	n := e.names
	events, total := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("202", 60000)...)
	want := evalAlerts(t, events)
	if len(want) == 0 {
		t.Fatal("processor eval found no alerts: the generator settings leave nothing to compare")
	}
	e.createTopic(n.Input, partitions)
	first := total / 4
	e.produceFile(splitFile(t, events, 0, first), n.Input)
	args := e.runArgs(n, "it-restart", faultArgs...) // one instance id: each run fences the one before

	// Run 1: stop with SIGTERM once alerts have committed.
	p1 := e.startProcessor("run1-sigterm", args...)
	waitFor(t, 2*time.Minute, "the first committed alerts", func() bool {
		p1.requireRunning()
		return e.sum(e.stableOffsets, n.Alerts) > 0
	})
	code, took := p1.terminate(sigtermBound)
	if code != 0 {
		t.Fatalf("run 1 exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
	afterTerm := e.committedSum(n)
	t.Logf("run 1: SIGTERM → exit 0 in %s; %d of %d input records committed", took.Round(time.Millisecond), afterTerm, first)

	// Run 2: the rest of the input arrives as a live stream; kill -9 while
	// the processor is behind (records fetched but not committed).
	p2 := e.startProcessor("run2-kill9", args...)
	pp := e.producePaced(events, n.Input, first, total, 9, 300*time.Millisecond)
	var lagAtKill int64
	behind := false
	waitFor(t, 3*time.Minute, "run 2 to make progress and be behind a live stream", func() bool {
		p2.requireRunning()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, committed, lag, err := e.lag(ctx, n)
		if err != nil {
			return false
		}
		lagAtKill = lag
		behind = committed.sum() >= afterTerm+5000 && lag >= 500
		return behind || (pp.finished() && lag == 0)
	})
	if !behind {
		t.Logf("WARNING: the live stream ended before run 2 was seen behind it; the kill -9 below is not mid-stream")
	}
	p2.kill9()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	open := e.openTransactions(ctx, n.Alerts, n.State)
	cancel()
	t.Logf("run 2: kill -9 with %d input records not yet committed; open transactions left by it: %v", lagAtKill, open)

	// Run 3: fences run 2's transaction, restores state, drains.
	p3 := e.startProcessor("run3-drain", args...)
	pp.wait(t)
	caughtUp := e.waitCaughtUp(n, 4*time.Minute, p3)
	t.Logf("run 3: caught up %s after start; restored %d partitions", caughtUp.Sub(p3.started).Round(time.Millisecond), len(p3.restores()))

	got := topicAlerts(t, e.readCommitted(n.Alerts, time.Minute))
	checkExactlyOnce(t, want, got)
	checkPerHostOrder(t, want, got)
	e.checkNoOpenTransactions(n.Alerts, n.State)
	if code, took := p3.terminate(sigtermBound); code != 0 {
		t.Errorf("run 3 exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}

// TestTwoProcessorsOneLeaves: a owns every partition, b joins (cooperative
// rebalance), both work on a live stream, b leaves with SIGTERM and a takes
// its partitions over, restoring their state from the state topic.
func TestTwoProcessorsOneLeaves(t *testing.T) {
	e := newEnv(t)
	n := e.names
	events, total := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("303", 40000)...)
	want := evalAlerts(t, events)
	if len(want) == 0 {
		t.Fatal("processor eval found no alerts: the generator settings leave nothing to compare")
	}
	e.createTopic(n.Input, partitions)
	first := total / 5
	e.produceFile(splitFile(t, events, 0, first), n.Input)

	a := e.startProcessor("a", e.runArgs(n, "it-a", faultArgs...)...)
	waitFor(t, 2*time.Minute, "a to own all partitions", func() bool {
		a.requireRunning()
		return len(a.owned()) == partitions
	})
	b := e.startProcessor("b", e.runArgs(n, "it-b", faultArgs...)...)
	pp := e.producePaced(events, n.Input, first, total, 8, 400*time.Millisecond)
	waitFor(t, 2*time.Minute, "a and b to split the partitions", func() bool {
		a.requireRunning()
		b.requireRunning()
		oa, ob := a.owned(), b.owned()
		return len(oa) > 0 && len(ob) > 0 && len(oa)+len(ob) == partitions
	})
	t.Logf("split: a owns %v, b owns %v", keys(a.owned()), keys(b.owned()))

	// Let b work on a live stream for a while, then it leaves.
	base := e.committedSum(n)
	waitFor(t, 2*time.Minute, "progress with two members", func() bool {
		a.requireRunning()
		b.requireRunning()
		return e.committedSum(n) >= base+4000
	})
	bOwned := b.owned()
	code, took := b.terminate(sigtermBound)
	if code != 0 {
		t.Fatalf("b exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
	t.Logf("b: SIGTERM → exit 0 in %s, leaving partitions %v", took.Round(time.Millisecond), keys(bOwned))

	pp.wait(t)
	e.waitCaughtUp(n, 4*time.Minute, a)

	// a must have taken b's partitions over: restored them from the state
	// topic a second time, past the offsets b got them at (b committed work
	// on at least one of them).
	restoredOnce := map[int32]bool{}
	takeover := map[int32]restore{}
	for _, r := range a.restores() {
		if !restoredOnce[r.Partition] {
			restoredOnce[r.Partition] = true
			continue
		}
		takeover[r.Partition] = r
	}
	bGot := map[int32]int64{}
	for _, r := range b.restores() {
		bGot[r.Partition] = r.NextOffset
	}
	progressed := 0
	for p := range bOwned {
		r, ok := takeover[p]
		if !ok {
			t.Errorf("a never restored partition %d after b left (a's restores: %+v)", p, a.restores())
			continue
		}
		if r.NextOffset > bGot[p] {
			progressed++
		}
		t.Logf("a took over partition %d at offset %d (b got it at %d) with %d live partial matches from the state topic",
			p, r.NextOffset, bGot[p], r.LiveStates)
	}
	if progressed == 0 {
		t.Errorf("b committed nothing on its partitions %v before leaving: the takeover did not restore any state b wrote", keys(bOwned))
	}
	if len(a.owned()) != partitions {
		t.Errorf("a owns %v after b left, want all %d partitions", keys(a.owned()), partitions)
	}

	recs := e.readCommitted(n.Alerts, time.Minute)
	got := topicAlerts(t, recs)
	checkExactlyOnce(t, want, got)
	checkPerHostOrder(t, want, got)
	checkGroundTruth(t, injectedChains(t, "303", 40000), alertChains(t, recs))
	e.checkNoOpenTransactions(n.Alerts, n.State)
	if code, took := a.terminate(sigtermBound); code != 0 {
		t.Errorf("a exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}

// sum returns the sum over partitions of list(topic), or -1 on error.
func (e *env) sum(list func(context.Context, string) (offsets, error), topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o, err := list(ctx, topic)
	if err != nil {
		return -1
	}
	var s int64
	for _, v := range o {
		s += max(v, 0)
	}
	return s
}

// committedSum is the sum of the group's committed input offsets, or -1.
func (e *env) committedSum(n names) int64 {
	return e.sum(func(ctx context.Context, topic string) (offsets, error) { return e.groupOffsets(ctx, n.Group, topic) }, n.Input)
}

// openTransactions returns, per topic, the partitions whose last stable
// offset is below the high watermark.
func (e *env) openTransactions(ctx context.Context, topics ...string) map[string][]int32 {
	out := map[string][]int32{}
	for _, topic := range topics {
		hw, err1 := e.endOffsets(ctx, topic)
		st, err2 := e.stableOffsets(ctx, topic)
		if err1 != nil || err2 != nil {
			continue
		}
		for p, h := range hw {
			if st[p] < h {
				out[topic] = append(out[topic], p)
			}
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func keys(m map[int32]bool) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
