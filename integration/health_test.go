package integration

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/kafkatest"
)

// probe GETs path on the processor's metrics address and returns the status
// code and body (0 and the error text when the request fails).
func probe(addr, path string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// kafkaLocal returns the kafka-local.sh that runs the cluster of
// KAFKA_BROKERS (KAFKA_LOCAL, as for the chaos test): a test of broker
// faults needs it. Under CI=true a missing KAFKA_LOCAL fails the test.
// When the tests started their own kafka-local.sh node (internal/kafkatest),
// it is that node; a Kafka container cannot take these faults.
func kafkaLocal(t *testing.T) string {
	t.Helper()
	kafkaBrokers(t) // resolves the cluster first: a node started for the tests exports KAFKA_LOCAL
	if c, _ := kafkatest.Get(); c != nil && c.Source == kafkatest.FromTestcontainers {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test stops and pauses the broker through kafka-local.sh; the tests run on a Kafka container (KAFKA_BROKERS unset)")
		}
		t.Skip("this test stops and pauses the broker through kafka-local.sh; the tests run on a Kafka container: set KAFKA_BROKERS and KAFKA_LOCAL, or EQLSTREAM_KAFKA_TESTCONTAINERS=false")
	}
	s := os.Getenv("KAFKA_LOCAL")
	if s == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KAFKA_LOCAL (deployments/kafka/kafka-local.sh with the cluster's EQLSTREAM_KAFKA_* settings) is required under CI")
		}
		t.Skip("KAFKA_LOCAL is unset: set it to deployments/kafka/kafka-local.sh (with the cluster's EQLSTREAM_KAFKA_* variables) to stop, pause and restart the broker")
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func brokerFault(t *testing.T, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, script, args...).CombinedOutput(); err != nil {
		t.Fatalf("kafka-local.sh %v: %v\n%s", args, err, out)
	}
	t.Logf("broker: kafka-local.sh %s", strings.Join(args, " "))
}

// waitProbe waits until path answers code, checking every 200ms that the
// process runs and that /healthz answers 200 (liveness must not fail for a
// broker outage); it returns the body and how long it took.
func waitProbe(t *testing.T, p *proc, addr, path string, code int, timeout time.Duration) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	var body string
	waitFor(t, timeout, path+" to answer "+http.StatusText(code), func() bool {
		p.requireRunning()
		if c, b := probe(addr, "/healthz"); c != http.StatusOK {
			t.Fatalf("/healthz answered %d %q during a broker outage; liveness must only fail when the pipeline is wedged", c, b)
		}
		var c int
		c, body = probe(addr, path)
		return c == code
	})
	return body, time.Since(start)
}

// TestReadinessFollowsTheBroker: /readyz is 503 (saying why) while the
// instance has not joined or restored, 200 once it works, 503 within
// seconds of its only broker being paused (SIGSTOP) or stopped, and 200
// again after it resumes or restarts; /healthz stays 200 throughout (a
// broker outage is not a wedged pipeline: a restart would not help) and the
// instance does not exit.
func TestReadinessFollowsTheBroker(t *testing.T) {
	script := kafkaLocal(t)
	e := newEnv(t)
	if len(e.brokers) != 1 {
		t.Skipf("this test pauses node 1 of a 1-node cluster; KAFKA_BROKERS has %d brokers", len(e.brokers))
	}
	n := e.names
	events, _ := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("505", 5000)...)
	e.createTopic(n.Input, partitions)
	e.produceFile(events, n.Input)
	p := e.startProcessor("processor", e.runArgs(n, "it-ready")...)
	addr := p.metricsAddr(30 * time.Second)
	if c, b := probe(addr, "/readyz"); c == http.StatusOK {
		t.Logf("/readyz was already 200 at the first probe: %q", b)
	} else {
		t.Logf("/readyz at start: %d %q", c, b)
		if !strings.HasPrefix(b, "not ready: ") {
			t.Errorf("/readyz body %q does not say why it is not ready", b)
		}
	}
	e.waitCaughtUp(n, 2*time.Minute, p)
	body, took := waitProbe(t, p, addr, "/readyz", http.StatusOK, time.Minute)
	t.Logf("/readyz 200 %q %s after catching up", body, took.Round(time.Millisecond))

	brokerFault(t, script, "pause", "1")
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			brokerFault(t, script, "resume", "1")
		}
	})
	body, took = waitProbe(t, p, addr, "/readyz", http.StatusServiceUnavailable, 30*time.Second)
	t.Logf("broker paused: /readyz 503 after %s: %q", took.Round(time.Millisecond), body)
	if !strings.Contains(body, "brokers unreachable") && !strings.Contains(body, "no broker round trip succeeded") {
		t.Errorf("/readyz body %q does not say the broker does not answer", body)
	}
	if took > 15*time.Second {
		t.Errorf("/readyz took %s to notice the paused broker, want within 15s", took)
	}
	time.Sleep(5 * time.Second) // stays not ready while paused
	if c, b := probe(addr, "/readyz"); c != http.StatusServiceUnavailable {
		t.Errorf("/readyz answered %d %q while the broker is still paused", c, b)
	}
	brokerFault(t, script, "resume", "1")
	resumed = true
	body, took = waitProbe(t, p, addr, "/readyz", http.StatusOK, 90*time.Second)
	t.Logf("broker resumed: /readyz 200 after %s: %q", took.Round(time.Millisecond), body)

	brokerFault(t, script, "stop", "1")
	started := false
	t.Cleanup(func() {
		if !started {
			brokerFault(t, script, "start", "1")
		}
	})
	body, took = waitProbe(t, p, addr, "/readyz", http.StatusServiceUnavailable, 30*time.Second)
	t.Logf("broker stopped: /readyz 503 after %s: %q", took.Round(time.Millisecond), body)
	brokerFault(t, script, "start", "1")
	started = true
	body, took = waitProbe(t, p, addr, "/readyz", http.StatusOK, 2*time.Minute)
	t.Logf("broker restarted: /readyz 200 after %s: %q", took.Round(time.Millisecond), body)

	if code, took := p.terminate(sigtermBound); code != 0 {
		t.Errorf("processor exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}

// TestDeletedAlertsTopicStopsTheInstance: a topic that disappears cannot
// heal: the instance exits 1 within seconds naming it, and is not ready
// meanwhile.
func TestDeletedAlertsTopicStopsTheInstance(t *testing.T) {
	e := newEnv(t)
	n := e.names
	events, _ := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("606", 3000)...)
	e.createTopic(n.Input, partitions)
	e.produceFile(events, n.Input)
	p := e.startProcessor("processor", e.runArgs(n, "it-gone")...)
	addr := p.metricsAddr(30 * time.Second)
	e.waitCaughtUp(n, 2*time.Minute, p)
	waitProbe(t, p, addr, "/readyz", http.StatusOK, time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.adm.DeleteTopics(ctx, n.Alerts); err != nil {
		t.Fatalf("deleting %s: %v", n.Alerts, err)
	}
	deleted := time.Now()
	select {
	case <-p.done:
	case <-time.After(45 * time.Second):
		t.Fatalf("the processor still runs 45s after its alerts topic was deleted; last lines:\n%s", tail(p.logPath, 20))
	}
	took := time.Since(deleted)
	want := `topic \"` + n.Alerts + `\" does not exist (UNKNOWN_TOPIC_OR_PARTITION` // as slog quotes it
	log := p.log()
	i := strings.Index(log, `msg="pipeline failed"`)
	t.Logf("exit %d %s after the delete: %s", p.exitCode, took.Round(time.Millisecond), strings.TrimSpace(log[max(i, 0):]))
	if p.exitCode != 1 {
		t.Errorf("exit code %d, want 1", p.exitCode)
	}
	if !strings.Contains(log, want) {
		t.Errorf("the log does not name the deleted topic (%q)", want)
	}
	if took > 30*time.Second {
		t.Errorf("took %s to stop, want within 30s", took)
	}
}
