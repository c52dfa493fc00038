package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBrokerPauseMidStreamAbortsAndHeals: the only broker is paused
// (SIGSTOP) for 8s while the processor works on a live stream, longer than
// a record may take to be delivered (half the 10s transaction timeout) and
// shorter than the session timeout. The open transaction aborts, the abort
// is logged at warn with its cause, the instance is not ready meanwhile and
// stays alive, then it heals: ready again, and the alerts equal `processor
// eval`, each once. Records evaluated again count in
// events_replayed_total, not in events_in_total.
func TestBrokerPauseMidStreamAbortsAndHeals(t *testing.T) {
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
	pp := e.producePaced(events, n.Input, first, total, 12, 400*time.Millisecond)
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
	pp.wait(t)
	e.waitCaughtUp(n, 4*time.Minute, p)
	body, took = waitProbe(t, p, addr, "/readyz", http.StatusOK, time.Minute)
	t.Logf("caught up; /readyz 200 %q", body)

	var aborts []string
	for _, l := range strings.Split(p.log(), "\n") {
		if strings.Contains(l, `msg="transaction aborted; records will be consumed again"`) {
			aborts = append(aborts, l)
		}
	}
	if len(aborts) == 0 {
		t.Errorf("no transaction aborted while the broker was paused mid-stream")
	}
	for _, l := range aborts {
		t.Logf("abort: %s", l)
		if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "cause=") || !strings.Contains(l, "detail=") {
			t.Errorf("abort not logged at warn with its cause: %s", l)
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
	if len(aborts) > 0 && replayed == 0 {
		t.Errorf("events_replayed_total = 0 after %d aborted transactions", len(aborts))
	}
	if code, took := p.terminate(sigtermBound); code != 0 {
		t.Errorf("processor exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}
