package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	supKept    = "eqlstream-sudo-per-host-2h" // the same in both revisions
	supChanged = "it-sup-changed"             // its window grows from 2 h to 3 h
)

// writeSuppressionRuleDirs: v1 is the built-ins, the 5 s suppression rule
// with its exception list, the 2 h rule and a copy of it (supChanged); v2
// changes the copy's suppression duration and nothing else.
func writeSuppressionRuleDirs(t *testing.T) (v1, v2 string) {
	t.Helper()
	td := filepath.Join("..", "rules", "suppress", "testdata")
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	root := t.TempDir()
	v1, v2 = filepath.Join(root, "v1"), filepath.Join(root, "v2")
	files := map[string]map[string]string{v1: {}, v2: {}}
	ents, err := os.ReadDir(filepath.Join("..", "rules", "builtin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		text := read(filepath.Join("..", "rules", "builtin", en.Name()))
		files[v1][en.Name()], files[v2][en.Name()] = text, text
	}
	for _, f := range []string{"sudo_suppressed.toml", "sudo_per_host_2h.toml"} {
		text := read(filepath.Join(td, f))
		files[v1][f], files[v2][f] = text, text
	}
	kept := files[v1]["sudo_per_host_2h.toml"]
	copied := strings.Replace(kept, `rule_id = "`+supKept+`"`, `rule_id = "`+supChanged+`"`, 1)
	longer := strings.Replace(copied, "value = 2\n", "value = 3\n", 1)
	if copied == kept || longer == copied {
		t.Fatal("could not make the changed suppression rule")
	}
	files[v1]["changed.toml"], files[v2]["changed.toml"] = copied, longer
	writeRuleFiles(t, files)
	return v1, v2
}

// TestSuppressionRuleChange: suppression rules and their exception list
// come from a rules topic; mid-stream, while every suppression window of
// the 2 h rules is open, a push changes one rule's suppression duration.
// The unchanged rules keep their windows (their alerts are eval's over the
// whole input without a change), the changed rule's windows start again
// (a new first alert per group after the change), its old window records
// are deleted in the change's transaction, and every alert and summary —
// with its suppression fields — is eval's replaying the committed
// revisions (--rules-at).
func TestSuppressionRuleChange(t *testing.T) {
	e := newEnv(t)
	n := e.names
	rulesTopic := n.Group + "-rules"
	v1, v2 := writeSuppressionRuleDirs(t)
	xl := filepath.Join("..", "rules", "suppress", "testdata", "sudo_tuning.ndjson")
	rev1 := e.pushRules(rulesTopic, "--exceptions", xl, v1)
	events, total := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("505", 30000)...)
	half := total / 2
	e.createTopic(n.Input, partitions)
	e.createOutputs(n)
	e.produceFile(splitFile(t, events, 0, half), n.Input)
	pa := e.startProcessor("processor-a", e.runArgs(n, "it-suprule-a", "--rules-topic", rulesTopic, "--idle-flush=-1s")...)
	e.waitCaughtUp(n, 3*time.Minute, pa)
	openOf := func(rule string) int {
		c := 0
		live := map[string]bool{}
		for _, r := range e.readCommitted(n.State, time.Minute) {
			if strings.Contains(string(r.Key), "/s/"+rule+"/") {
				live[string(r.Key)] = r.Value != nil
			}
		}
		for _, v := range live {
			if v {
				c++
			}
		}
		return c
	}
	keptBefore, changedBefore := openOf(supKept), openOf(supChanged)
	if keptBefore == 0 || changedBefore == 0 {
		t.Fatalf("before the change: %d windows of %s and %d of %s open; the change would not be mid-window", keptBefore, supKept, changedBefore, supChanged)
	}
	rev2 := e.pushRules(rulesTopic, "--prune", "--exceptions", xl, v2)
	waitFor(t, time.Minute, "every partition to commit revision "+rev2, func() bool {
		pa.requireRunning()
		done := 0
		for _, pts := range e.revisionHistory(n) {
			if pts[len(pts)-1].revision == rev2 {
				done++
			}
		}
		return done == partitions
	})
	// the change's transaction deleted the changed rule's windows and no other
	if got := openOf(supChanged); got != 0 {
		t.Fatalf("after the change, before more input: %d windows of the changed rule in the committed state, want 0", got)
	}
	if got := openOf(supKept); got != keptBefore {
		t.Fatalf("after the change: %d windows of the unchanged rule, want the %d before", got, keptBefore)
	}
	e.produceFile(splitFile(t, events, half, total), n.Input)
	e.waitCaughtUp(n, 3*time.Minute, pa)
	if code, took := pa.terminate(sigtermBound); code != 0 {
		t.Errorf("processor exited with code %d after SIGTERM (in %s)", code, took)
	}

	recs := e.readCommitted(n.Alerts, time.Minute)
	docs := make([][]byte, len(recs))
	for i, r := range recs {
		docs[i] = r.Value
	}
	got := suppressionOf(t, docs)
	gotAlerts := topicAlerts(t, recs)
	hist := e.revisionHistory(n)
	var exactDocs [][]byte
	var exact, whole []alert
	for p, path := range e.partitionFiles(n.Input) {
		pts := hist[p]
		if len(pts) != 2 || pts[0].revision != rev1 || pts[1].revision != rev2 || pts[1].from <= 0 {
			t.Fatalf("partition %d: committed revision history %+v, want %s then %s after some input", p, pts, rev1, rev2)
		}
		args := []string{"eval", "--quiet", "--final-flush=false", "--exceptions", xl, "--rules", v1}
		at := append(append([]string{}, args...), "--rules-at", strconv.FormatInt(pts[1].from, 10)+"@"+pts[1].flushes+"="+v2, path)
		ex := runTool(t, 5*time.Minute, at...)
		wh := runTool(t, 5*time.Minute, append(args, path)...)
		for _, x := range []struct {
			out  []byte
			docs *[][]byte
			as   *[]alert
		}{{ex, &exactDocs, &exact}, {wh, new([][]byte), &whole}} {
			for _, line := range strings.Split(strings.TrimSpace(string(x.out)), "\n") {
				if line == "" {
					continue
				}
				a, err := parseAlert([]byte(line))
				if err != nil {
					t.Fatal(err)
				}
				*x.docs = append(*x.docs, []byte(line))
				*x.as = append(*x.as, a)
			}
		}
	}
	checkExactlyOnce(t, exact, gotAlerts)
	sameSuppression(t, "eval --rules-at", suppressionOf(t, exactDocs), got)
	// the unchanged rules kept their windows: as if nothing changed
	for _, rule := range []string{supKept, "eqlstream-sudo-suppressed"} {
		w, g := byRule(whole, rule), byRule(gotAlerts, rule)
		if len(w) == 0 {
			t.Fatalf("eval gives no alerts of %s: nothing compared", rule)
		}
		t.Run("unchanged_"+rule, func(t *testing.T) { checkExactlyOnce(t, w, g) })
	}
	// the changed rule started again: more first alerts than without the change
	wc, gc := len(byRule(whole, supChanged)), len(byRule(gotAlerts, supChanged))
	t.Logf("%d alerts (%d with suppression fields) equal eval --rules-at; windows open at the change: %d kept (%s), %d dropped (%s); %s alerts: %d online, %d without the change",
		len(gotAlerts), len(got), keptBefore, supKept, changedBefore, supChanged, supChanged, gc, wc)
	if gc <= wc {
		t.Errorf("the changed rule has %d alerts online and %d without the change: its windows did not start again", gc, wc)
	}
	e.checkNoOpenTransactions(n.Alerts, n.State)
}
