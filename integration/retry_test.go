package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrokerPauseAndStopMidStreamHeal: while the processor works on a
// live stream its only broker is paused (SIGSTOP) for 8s, then stopped for
// 6s and restarted. The instance is not ready meanwhile (503 within
// seconds), stays alive (/healthz 200, no exit), then heals: ready again,
// and the alerts equal `processor eval`, each once. A transaction open when
// the broker went away aborts (logged at warn with its cause; usually none
// is open: the input comes through the same broker), and records evaluated
// again count in events_replayed_total, not in events_in_total. Records evaluated again count in
// events_replayed_total, not in events_in_total.
func TestBrokerPauseAndStopMidStreamHeal(t *testing.T) {
	script := kafkaLocal(t)
	e := newEnv(t)
	if len(e.brokers) != 1 {
		t.Skipf("this test pauses node 1 of a 1-node cluster; KAFKA_BROKERS has %d brokers", len(e.brokers))
	}
	n := e.names
	events, total := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("707", 40000)...)
	want := evalAlerts(t, events)
	e.createTopic(n.Input, partitions)
	first := total / 5
	e.produceFile(splitFile(t, events, 0, first), n.Input)
	p := e.startProcessor("processor", e.runArgs(n, "it-pause", faultArgs...)...)
	addr := p.metricsAddr(30 * time.Second)
	e.waitCaughtUp(n, 2*time.Minute, p)
	pp := e.producePaced(events, n.Input, first, total, 24, 700*time.Millisecond)
	base := e.committedSum(n)
	waitFor(t, 2*time.Minute, "progress on the live stream", func() bool {
		p.requireRunning()
		return e.committedSum(n) >= base+3000
	})
	brokerFault(t, script, "pause", "1")
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			brokerFault(t, script, "resume", "1")
		}
	})
	body, took := waitProbe(t, p, addr, "/readyz", http.StatusServiceUnavailable, 15*time.Second)
	t.Logf("broker paused: /readyz 503 after %s: %q", took.Round(time.Millisecond), body)
	time.Sleep(8*time.Second - took)
	brokerFault(t, script, "resume", "1")
	resumed = true
	waitProbe(t, p, addr, "/readyz", http.StatusOK, time.Minute)

	// A pause often heals inside the client (requests in flight are
	// answered on resume). A stop refuses connections: records cannot be
	// delivered within their timeout and the transaction aborts.
	base = e.committedSum(n)
	waitFor(t, 2*time.Minute, "progress on the live stream after the pause", func() bool {
		p.requireRunning()
		return pp.finished() || e.committedSum(n) >= base+2000
	})
	if pp.finished() {
		t.Fatal("the live stream ended before the broker could be stopped mid-stream; slow the producer down")
	}
	brokerFault(t, script, "stop", "1")
	started := false
	t.Cleanup(func() {
		if !started {
			brokerFault(t, script, "start", "1")
		}
	})
	body, took = waitProbe(t, p, addr, "/readyz", http.StatusServiceUnavailable, 15*time.Second)
	t.Logf("broker stopped: /readyz 503 after %s: %q", took.Round(time.Millisecond), body)
	time.Sleep(6 * time.Second)
	brokerFault(t, script, "start", "1")
	started = true
	pp.wait(t)
	e.waitCaughtUp(n, 4*time.Minute, p)
	body, took = waitProbe(t, p, addr, "/readyz", http.StatusOK, time.Minute)
	t.Logf("caught up; /readyz 200 %q", body)

	for _, l := range strings.Split(p.log(), "\n") {
		if strings.Contains(l, `msg="transaction aborted; records will be consumed again"`) {
			t.Logf("abort: %s", l)
			if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "cause=") || !strings.Contains(l, "detail=") {
				t.Errorf("abort not logged at warn with its cause: %s", l)
			}
		}
	}
	got := topicAlerts(t, e.readCommitted(n.Alerts, time.Minute))
	checkExactlyOnce(t, want, got)
	checkPerHostOrder(t, want, got)
	e.checkNoOpenTransactions(n.Alerts, n.State)
	m, err := p.scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	in := metricByLabel(m, "eqlstream_events_in_total", "topic")[n.Input]
	replayed := metricByLabel(m, "eqlstream_events_replayed_total", "topic")[n.Input]
	causes := metricByLabel(m, "eqlstream_transaction_aborts_total", "cause")
	t.Logf("events_in_total %.0f, events_replayed_total %.0f for %d input records; aborts by cause %v", in, replayed, total, causes)
	if int(in) != total {
		t.Errorf("events_in_total = %.0f, want %d (each input offset once)", in, total)
	}
	if aborted := causes["produce_error"] + causes["commit_refused"]; aborted > 0 && replayed == 0 {
		t.Errorf("events_replayed_total = 0 after %.0f aborted transactions", aborted)
	}
	if code, took := p.terminate(sigtermBound); code != 0 {
		t.Errorf("processor exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}

// TestFencedInstanceExits: a second instance starts with the same
// --instance-id (so the same transactional ID) while the first works on a
// live stream: the first is fenced and must exit 1 within seconds, naming
// the transactional ID, instead of looping; the second finishes the work
// and the alerts equal `processor eval`.
func TestFencedInstanceExits(t *testing.T) {
	e := newEnv(t)
	n := e.names
	events, total := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("808", 30000)...)
	want := evalAlerts(t, events)
	e.createTopic(n.Input, partitions)
	first := total / 5
	e.produceFile(splitFile(t, events, 0, first), n.Input)
	args := e.runArgs(n, "it-fenced", faultArgs...)
	a := e.startProcessor("a", args...)
	e.waitCaughtUp(n, 2*time.Minute, a)
	pp := e.producePaced(events, n.Input, first, total, 20, 500*time.Millisecond)
	base := e.committedSum(n)
	waitFor(t, 2*time.Minute, "progress on the live stream", func() bool {
		a.requireRunning()
		return e.committedSum(n) >= base+2000
	})
	b := e.startProcessor("b", args...)
	started := time.Now()
	select {
	case <-a.done:
	case <-time.After(90 * time.Second):
		t.Fatalf("a still runs 90s after b started with the same instance id; last lines:\n%s", tail(a.logPath, 20))
	}
	took := time.Since(started)
	log := a.log()
	i := strings.Index(log, `msg="pipeline failed"`)
	t.Logf("a: exit %d %s after b started: %s", a.exitCode, took.Round(time.Millisecond), strings.TrimSpace(log[max(i, 0):]))
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "transaction end failed") || strings.Contains(l, "transaction aborted") {
			t.Logf("a: %s", l)
		}
	}
	if a.exitCode != 1 {
		t.Errorf("a exited with code %d, want 1", a.exitCode)
	}
	if !strings.Contains(log, "producer fenced") || !strings.Contains(log, "eqlstream-"+n.Group+"-it-fenced") {
		t.Errorf("a's log does not say it was fenced, naming the transactional ID")
	}
	pp.wait(t)
	e.waitCaughtUp(n, 4*time.Minute, b)
	got := topicAlerts(t, e.readCommitted(n.Alerts, time.Minute))
	checkExactlyOnce(t, want, got)
	e.checkNoOpenTransactions(n.Alerts, n.State)
	if code, took := b.terminate(sigtermBound); code != 0 {
		t.Errorf("b exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}
