package integration

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestHealableProduceErrorRetriesWhileNotReady: the state topic asks for
// more in-sync replicas than the cluster has (min.insync.replicas one above
// the replication factor), so every transaction's state records fail with
// NOT_ENOUGH_REPLICAS: a healable error. The instance aborts, says why at
// warn, counts the abort by cause, retries with backoff, stays alive and is
// not ready meanwhile; once the topic is fixed it commits, becomes ready,
// and the alerts equal `processor eval`. Replays after the aborts count in
// events_replayed_total, not events_in_total.
func TestHealableProduceErrorRetriesWhileNotReady(t *testing.T) {
	e := newEnv(t)
	n := e.names
	events, total := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("707", 4000)...)
	want := evalAlerts(t, events)
	e.createTopic(n.Input, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	compact, isr := "compact", strconv.Itoa(int(e.rf)+1)
	e.createTopicConfig(ctx, n.State, partitions, map[string]*string{"cleanup.policy": &compact, "min.insync.replicas": &isr})
	e.produceFile(events, n.Input)

	p := e.startProcessor("processor", e.runArgs(n, "it-retry", "--transaction-timeout", "5s")...)
	addr := p.metricsAddr(30 * time.Second)
	var aborts float64
	waitFor(t, 2*time.Minute, "two aborted transactions with cause produce_error", func() bool {
		p.requireRunning()
		m, err := p.scrape(addr)
		if err != nil {
			return false
		}
		aborts = metricByLabel(m, "eqlstream_transaction_aborts_total", "cause")["produce_error"]
		return aborts >= 2
	})
	line := ""
	for _, l := range strings.Split(p.log(), "\n") {
		if strings.Contains(l, `msg="transaction aborted; records will be consumed again"`) {
			line = l
			break
		}
	}
	t.Logf("abort log line: %s", line)
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "cause=produce_error") || !strings.Contains(line, n.State) {
		t.Errorf("the abort is not logged at warn with its cause and topic: %q", line)
	}
	if c, b := probe(addr, "/readyz"); c != http.StatusServiceUnavailable || !strings.Contains(b, "retrying: producing to") {
		t.Errorf("/readyz = %d %q while every transaction aborts; want 503 saying it is retrying", c, b)
	} else {
		t.Logf("/readyz while retrying: %d %q", c, b)
	}
	if c, b := probe(addr, "/healthz"); c != http.StatusOK {
		t.Errorf("/healthz = %d %q while retrying a healable error", c, b)
	}

	one := strconv.Itoa(int(e.rf))
	if _, err := e.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: &one}}, n.State); err != nil {
		t.Fatalf("fixing %s: %v", n.State, err)
	}
	e.waitCaughtUp(n, 3*time.Minute, p)
	waitProbe(t, p, addr, "/readyz", http.StatusOK, time.Minute)
	got := topicAlerts(t, e.readCommitted(n.Alerts, time.Minute))
	checkExactlyOnce(t, want, got)
	m, err := p.scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	in := metricByLabel(m, "eqlstream_events_in_total", "topic")[n.Input]
	replayed := metricByLabel(m, "eqlstream_events_replayed_total", "topic")[n.Input]
	t.Logf("events_in_total %.0f, events_replayed_total %.0f for %d input records, %.0f aborts", in, replayed, total, aborts)
	if int(in) != total {
		t.Errorf("events_in_total = %.0f, want %d (each input offset once)", in, total)
	}
	if replayed == 0 {
		t.Errorf("events_replayed_total = 0 after %.0f aborted transactions", aborts)
	}
	if code, took := p.terminate(sigtermBound); code != 0 {
		t.Errorf("processor exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}
