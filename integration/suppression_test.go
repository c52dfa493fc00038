package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// suppressionRuleArgs: the built-in rules plus a rule with alert
// suppression (per host.id and user.name, 5 s windows) and an exception
// list, as the processors and eval get them.
func suppressionRuleArgs() []string {
	td := filepath.Join("..", "rules", "suppress", "testdata")
	return []string{"--rules", filepath.Join("..", "rules", "builtin"),
		"--rules", filepath.Join(td, "sudo_suppressed.toml"), "--exceptions", filepath.Join(td, "sudo_tuning.ndjson")}
}

// suppressionOf maps alert IDs to their suppression fields (docs_count,
// start, end); alerts without them are left out.
func suppressionOf(t testing.TB, docs [][]byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, doc := range docs {
		var d struct {
			ID    string `json:"kibana.alert.uuid"`
			Docs  *int   `json:"kibana.alert.suppression.docs_count"`
			Start string `json:"kibana.alert.suppression.start"`
			End   string `json:"kibana.alert.suppression.end"`
			EQL   struct {
				Kind string `json:"kind"`
			} `json:"eqlstream"`
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatalf("alert: %v: %.200s", err, doc)
		}
		if d.Docs != nil {
			out[d.ID] = fmt.Sprintf("%s docs_count=%d %s..%s", d.EQL.Kind, *d.Docs, d.Start, d.End)
		}
	}
	return out
}

// sameSuppression fails t unless the topic's alerts have eval's suppression
// fields (suppressionOf of both).
func sameSuppression(t testing.TB, what string, want, got map[string]string) {
	t.Helper()
	var diff []string
	for id, w := range want {
		if got[id] != w {
			diff = append(diff, fmt.Sprintf("%s: %s %q, topic %q", id, what, w, got[id]))
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 || len(got) != len(want) {
		t.Fatalf("suppression fields differ from %s (%d alerts with them on the topic, %d from %s):\n%s", what, len(got), len(want), what, strings.Join(diff, "\n"))
	}
}

// openWindows counts the suppression windows the committed state topic
// holds (latest value per key, tombstones remove).
func (e *env) openWindows(n names) int {
	if e.sum(e.stableOffsets, n.State) <= 0 {
		return 0 // not created yet, or nothing committed
	}
	live := map[string]bool{}
	for _, r := range e.readCommitted(n.State, time.Minute) {
		if !strings.Contains(string(r.Key), "/s/") {
			continue
		}
		live[string(r.Key)] = r.Value != nil
	}
	c := 0
	for _, v := range live {
		if v {
			c++
		}
	}
	return c
}

// TestSuppressionRestartAndRebalance: a processor with a suppression rule
// stops (SIGTERM) while suppression windows are open in the committed
// state; it restarts, a second instance joins (a rebalance moves
// partitions with open windows) and is killed with SIGKILL in the middle of
// the live stream, and the first drains. The alerts, the summaries and
// their counts must be exactly those of `processor eval`: no window
// reopened, none doubled, none lost.
func TestSuppressionRestartAndRebalance(t *testing.T) {
	e := newEnv(t)
	n := e.names
	events, total := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("404", 40000)...)
	out := runTool(t, 5*time.Minute, append(append([]string{"eval", "--quiet"}, suppressionRuleArgs()...), events)...)
	evalDocs := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	want := evalAlerts(t, events, suppressionRuleArgs()...)
	wantSup := suppressionOf(t, evalDocs)
	summaries := 0
	for _, s := range wantSup {
		if strings.HasPrefix(s, "suppression_summary") {
			summaries++
		}
	}
	if summaries < 10 {
		t.Fatalf("eval wrote %d suppression summaries: the input does not exercise suppression", summaries)
	}
	e.createTopic(n.Input, partitions)
	first := total / 4
	e.produceFile(splitFile(t, events, 0, first), n.Input)
	args := func(inst string) []string {
		return e.runArgs(n, inst, append(append([]string{}, faultArgs...), suppressionRuleArgs()...)...)
	}

	// Run 1: stop with SIGTERM once windows are open in the committed state.
	a1 := e.startProcessor("a-run1", args("it-sup-a")...)
	var open int
	waitFor(t, 2*time.Minute, "open suppression windows in the committed state", func() bool {
		a1.requireRunning()
		open = e.openWindows(n)
		return open > 0
	})
	if code, took := a1.terminate(sigtermBound); code != 0 {
		t.Fatalf("run 1 exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
	open = e.openWindows(n)
	t.Logf("run 1 stopped with %d suppression windows open in the committed state", open)
	if open == 0 {
		t.Fatal("no window open at the restart: the test would not restart in the middle of one")
	}

	// Run 2: a restarts, b joins while the rest arrives as a live stream.
	a2 := e.startProcessor("a-run2", args("it-sup-a")...)
	waitFor(t, 2*time.Minute, "a to own all partitions", func() bool {
		a2.requireRunning()
		return len(a2.owned()) == partitions
	})
	b := e.startProcessor("b", args("it-sup-b")...)
	pp := e.producePaced(events, n.Input, first, total, 8, 400*time.Millisecond)
	waitFor(t, 2*time.Minute, "a and b to split the partitions", func() bool {
		a2.requireRunning()
		b.requireRunning()
		oa, ob := a2.owned(), b.owned()
		return len(oa) > 0 && len(ob) > 0 && len(oa)+len(ob) == partitions
	})
	base := e.committedSum(n)
	waitFor(t, 2*time.Minute, "progress with two members", func() bool {
		a2.requireRunning()
		b.requireRunning()
		return e.committedSum(n) >= base+3000
	})
	bOwned := b.owned()
	b.kill9()
	t.Logf("b killed (SIGKILL) owning %v with %d windows open in the committed state", keys(bOwned), e.openWindows(n))
	pp.wait(t)
	e.waitCaughtUp(n, 4*time.Minute, a2)

	recs := e.readCommitted(n.Alerts, time.Minute)
	got := topicAlerts(t, recs)
	checkExactlyOnce(t, want, got)
	checkPerHostOrder(t, want, got)
	docs := make([][]byte, len(recs))
	for i, r := range recs {
		docs[i] = r.Value
	}
	gotSup := suppressionOf(t, docs)
	sameSuppression(t, "eval", wantSup, gotSup)
	t.Logf("%d alerts (%d with suppression fields, %d summaries) equal eval's", len(got), len(gotSup), summaries)
	if open := e.openWindows(n); open != 0 {
		t.Errorf("%d windows still open after the trailer moved every partition's watermark a minute past the input", open)
	}
	m, err := a2.scrape(a2.metricsAddr(10 * time.Second))
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	for _, name := range []string{"eqlstream_alerts_suppressed_total", "eqlstream_suppression_summaries_total", "eqlstream_exception_excluded_events_total"} {
		if v := metricByLabel(m, name, "rule_id")["eqlstream-sudo-suppressed"]; v <= 0 {
			t.Errorf("%s{rule_id=eqlstream-sudo-suppressed} = %v after a run with suppressions and exclusions", name, v)
		}
	}
	e.checkNoOpenTransactions(n.Alerts, n.State)
	if code, took := a2.terminate(sigtermBound); code != 0 {
		t.Errorf("a exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}
