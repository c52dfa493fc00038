package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Rule files of the live-rules test, made from the built-ins: v1 is the
// built-ins plus copies of the two sequence rules under new IDs ("changed"
// and "deleted"); v2 keeps the built-ins, changes "changed"'s maxspan (a
// new state machine) and version, deletes "deleted" and adds an event rule.
const (
	ruleChanged = "it-seq-changed"
	ruleDeleted = "it-seq-deleted"
	ruleAdded   = "it-event-added"
)

var builtinIDs = []string{"007e138a-8a35-4afb-83ad-db3121eabf85", "71e5ab27-ba4a-4851-8ef9-52296169170c",
	"7a756487-690f-4e73-922d-891a00202b9f", "b0170349-ba6d-428a-9668-eb90b69b8de8"}

func writeRuleDirs(t *testing.T) (v1, v2 string) {
	t.Helper()
	src := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "rules", "builtin", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	withID := func(s, from, to string) string {
		out := strings.Replace(s, `rule_id = "`+from+`"`, `rule_id = "`+to+`"`, 1)
		if out == s {
			t.Fatalf("rule_id %s not found", from)
		}
		return out
	}
	root := t.TempDir()
	v1, v2 = filepath.Join(root, "v1"), filepath.Join(root, "v2")
	files := map[string]map[string]string{v1: {}, v2: {}}
	for _, f := range []string{"apt_package_manager_execution.toml", "apt_package_manager_network_connection.toml",
		"dpkg_unusual_execution.toml", "persistence_script_executable_bit.toml"} {
		files[v1][f], files[v2][f] = src(f), src(f)
	}
	net := src("apt_package_manager_network_connection.toml")
	changed := withID(net, builtinIDs[0], ruleChanged)
	files[v1]["changed.toml"] = changed
	c2 := strings.Replace(strings.Replace(changed, "maxspan=5s", "maxspan=6s", 1), "\nversion = 1\n", "\nversion = 2\n", 1)
	if c2 == changed || !strings.Contains(c2, "version = 2") {
		t.Fatal("could not edit the changed rule")
	}
	files[v2]["changed.toml"] = c2
	files[v1]["deleted.toml"] = withID(src("apt_package_manager_execution.toml"), builtinIDs[2], ruleDeleted)
	files[v2]["added.toml"] = withID(src("dpkg_unusual_execution.toml"), builtinIDs[1], ruleAdded)
	writeRuleFiles(t, files)
	return v1, v2
}

// writeRuleFiles writes files[dir][name] = text.
func writeRuleFiles(t *testing.T, files map[string]map[string]string) {
	t.Helper()
	for dir, fs := range files {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, text := range fs {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

var pushRevRe = regexp.MustCompile(`at revision (\d+)`)

func (e *env) pushRules(topic string, args ...string) string {
	e.t.Helper()
	out := runTool(e.t, time.Minute, append([]string{"rules", "push", "--brokers", e.brokerList(), "--topic", topic}, args...)...)
	m := pushRevRe.FindSubmatch(out)
	if m == nil {
		e.t.Fatalf("rules push printed no revision: %s", out)
	}
	e.t.Logf("rules push: %s", bytes.TrimSpace(out))
	return string(m[1])
}

// partitionFiles writes the input topic's records, one file per partition
// in offset order (offset = line), as a processor's engine sees them.
func (e *env) partitionFiles(topic string) map[int32]string {
	e.t.Helper()
	dir := e.t.TempDir()
	by := map[int32]*bytes.Buffer{}
	for _, r := range e.readCommitted(topic, time.Minute) {
		b := by[r.Partition]
		if b == nil {
			b = &bytes.Buffer{}
			by[r.Partition] = b
		}
		if int64(bytes.Count(b.Bytes(), []byte("\n"))) != r.Offset {
			e.t.Fatalf("input %d@%d: offsets have gaps; lines would not be offsets", r.Partition, r.Offset)
		}
		b.Write(r.Value)
		b.WriteByte('\n')
	}
	out := map[int32]string{}
	for p, b := range by {
		path := filepath.Join(dir, "p"+strconv.Itoa(int(p))+".ndjson")
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			e.t.Fatal(err)
		}
		out[p] = path
	}
	return out
}

// evalIDs runs processor eval with args over path (--final-flush=false, as
// a running processor leaves its last reorder buffer) and returns its
// alerts, optionally only those of rule.
func evalIDs(t *testing.T, path string, rule string, args ...string) []alert {
	t.Helper()
	out := runTool(t, 5*time.Minute, append(append([]string{"eval", "--quiet", "--final-flush=false"}, args...), path)...)
	var as []alert
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		a, err := parseAlert(line)
		if err != nil {
			t.Fatal(err)
		}
		if rule == "" || a.RuleID == rule {
			as = append(as, a)
		}
	}
	return as
}

var revisionsRe = regexp.MustCompile(`^\S+/(\d+) .* revisions=(\S+)$`)

type revPoint struct {
	from     int64
	flushes  string
	revision string
}

// revisionHistory reads each partition's committed revision points.
func (e *env) revisionHistory(n names) map[int32][]revPoint {
	e.t.Helper()
	out := runTool(e.t, time.Minute, "flushes", "--brokers", e.brokerList(), "--input-topic", n.Input, "--group", n.Group)
	hist := map[int32][]revPoint{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		m := revisionsRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		p, _ := strconv.Atoi(m[1])
		for _, pt := range strings.Split(m[2], ",") {
			at, rev, _ := strings.Cut(pt, "=")
			from, fl, _ := strings.Cut(at, "@")
			f, _ := strconv.ParseInt(from, 10, 64)
			hist[int32(p)] = append(hist[int32(p)], revPoint{f, fl, rev})
		}
	}
	return hist
}

func byRule(as []alert, ids ...string) []alert {
	var out []alert
	for _, a := range as {
		for _, id := range ids {
			if a.RuleID == id {
				out = append(out, a)
			}
		}
	}
	return out
}

// TestLiveRuleChanges: rules arrive through a rules topic while two
// processors run; a push adds, changes and deletes rules mid-stream while a
// third instance joins the group.
// Checked against processor eval, per input partition (one engine each):
// unchanged rules alert as eval over the whole input; the changed and the
// added rule as eval over the events from the partition's change boundary
// on; the deleted rule as eval over the events before it, and none of its
// state records survive; and all alerts exactly as eval replaying the
// committed revision history (--rules-at). It reports how long the two
// instances take to run a pushed revision, and checks that a broken record
// written straight to the topic is reported and ignored.
func TestLiveRuleChanges(t *testing.T) {
	e := newEnv(t)
	n := e.names
	rulesTopic := n.Group + "-rules"
	v1, v2 := writeRuleDirs(t)
	rev1 := e.pushRules(rulesTopic, v1)
	t.Cleanup(func() {
		if !t.Failed() {
			_, _ = e.adm.DeleteTopics(context.Background(), rulesTopic)
		}
	})

	events, total := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("1010", 20000)...)
	half := total / 2
	e.createTopic(n.Input, partitions)
	e.createOutputs(n) // two instances start at once: neither races to create them
	e.produceFile(splitFile(t, events, 0, half), n.Input)
	args := []string{"--rules-topic", rulesTopic, "--idle-flush=-1s"}
	pa := e.startProcessor("processor-a", e.runArgs(n, "it-live-a", args...)...)
	pb := e.startProcessor("processor-b", e.runArgs(n, "it-live-b", args...)...)
	addrA, addrB := pa.metricsAddr(30*time.Second), pb.metricsAddr(30*time.Second)
	e.waitCaughtUp(n, 3*time.Minute, pa, pb)
	for _, x := range []struct {
		p    *proc
		addr string
	}{{pa, addrA}, {pb, addrB}} {
		m, err := x.p.scrape(x.addr)
		if err != nil || metricValue(m, "eqlstream_rules_revision") != mustFloat(t, rev1) {
			t.Fatalf("%s: eqlstream_rules_revision %v, want %s (%v)", x.p.name, metricValue(m, "eqlstream_rules_revision"), rev1, err)
		}
	}

	// the change, mid-stream, while a third instance joins (a rebalance
	// during the change); convergence = every instance runs it
	pc := e.startProcessor("processor-c", e.runArgs(n, "it-live-c", args...)...)
	addrC := pc.metricsAddr(30 * time.Second)
	pushed := time.Now()
	rev2 := e.pushRules(rulesTopic, "--prune", v2)
	pushTook := time.Since(pushed)
	want2 := mustFloat(t, rev2)
	conv := map[string]time.Duration{}
	waitFor(t, 30*time.Second, "every instance to run revision "+rev2, func() bool {
		for _, x := range []struct {
			p    *proc
			addr string
		}{{pa, addrA}, {pb, addrB}, {pc, addrC}} {
			if _, ok := conv[x.p.name]; ok {
				continue
			}
			if m, err := x.p.scrape(x.addr); err == nil && metricValue(m, "eqlstream_rules_revision") == want2 {
				conv[x.p.name] = time.Since(pushed)
			}
		}
		return len(conv) == 3
	})
	waitFor(t, 30*time.Second, "every partition to commit revision "+rev2, func() bool {
		h := e.revisionHistory(n)
		done := 0
		for _, pts := range h {
			if pts[len(pts)-1].revision == rev2 {
				done++
			}
		}
		return done == partitions
	})
	committedConv := time.Since(pushed)
	t.Logf("convergence after the push (push command took %s): running in %s (a), %s (b), %s (c, joining the group); committed by every partition after %s",
		pushTook.Round(time.Millisecond), conv["processor-a"].Round(time.Millisecond), conv["processor-b"].Round(time.Millisecond),
		conv["processor-c"].Round(time.Millisecond), committedConv.Round(time.Millisecond))

	e.produceFile(splitFile(t, events, half, total), n.Input)
	e.waitCaughtUp(n, 3*time.Minute, pa, pb, pc)

	// a broken record written without the push command's checks
	cl, err := kgo.NewClient(append(e.clientOpts(), kgo.DefaultProduceTopic(rulesTopic))...)
	if err != nil {
		t.Fatal(err)
	}
	dpkgFile, err := os.ReadFile(filepath.Join(v2, "dpkg_unusual_execution.toml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(strings.Replace(string(dpkgFile), builtinIDs[1], "it-broken", 1), "event.action == \"exec\" and", "event.action == \"exec\" and and", 1)
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("it-broken"), Value: []byte(broken)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	waitFor(t, 30*time.Second, "every instance to report the broken rule", func() bool {
		for _, x := range []struct {
			p    *proc
			addr string
		}{{pa, addrA}, {pb, addrB}, {pc, addrC}} {
			m, err := x.p.scrape(x.addr)
			if err != nil || metricValue(m, "eqlstream_rule_errors") != 1 || metricValue(m, "eqlstream_rules_reload_failures_total") < 1 {
				return false
			}
			if metricValue(m, "eqlstream_rules_revision") != want2 {
				t.Fatalf("%s switched revision on a broken record", x.p.name)
			}
			if code, _ := probe(x.addr, "/readyz"); code != 200 {
				t.Fatalf("%s is not ready after a broken rule record (/readyz %d)", x.p.name, code)
			}
		}
		return true
	})
	for _, p := range []*proc{pa, pb, pc} {
		if !regexp.MustCompile(`level=ERROR msg="rule does not compile" .*it-broken: .*unexpected keyword`).MatchString(p.log()) {
			t.Errorf("%s did not log an error naming the broken rule and the cause", p.name)
		}
	}
	lctx, lcancel := context.WithTimeout(context.Background(), time.Minute)
	list, _ := execTool(lctx, "rules", "list", "--brokers", e.brokerList(), "--rules-topic", rulesTopic)
	lcancel()
	if !regexp.MustCompile(`(?m)^it-broken\s.*\berror\b`).Match(list) {
		t.Errorf("rules list does not show it-broken as an error:\n%s", list)
	}
	for _, p := range []*proc{pa, pb, pc} {
		if code, took := p.terminate(sigtermBound); code != 0 {
			t.Errorf("%s exited with code %d after SIGTERM (in %s)", p.name, code, took)
		}
	}

	got := topicAlerts(t, e.readCommitted(n.Alerts, time.Minute))
	hist := e.revisionHistory(n)
	files := e.partitionFiles(n.Input)
	dirs := map[string]string{rev1: v1, rev2: v2}
	var exact, whole, tail, head, unchanged []alert
	straddling, oldChanged := 0, 0
	for p, path := range files {
		pts := hist[p]
		if len(pts) != 2 || pts[0].revision != rev1 || pts[1].revision != rev2 {
			t.Fatalf("partition %d: committed revision history %+v, want %s then %s", p, pts, rev1, rev2)
		}
		b := pts[1].from
		if b <= 0 {
			t.Fatalf("partition %d: change boundary at offset %d: the first half was not processed under %s", p, b, rev1)
		}
		exact = append(exact, evalIDs(t, path, "", "--rules", v1, "--rules-at", strconv.FormatInt(b, 10)+"@"+pts[1].flushes+"="+dirs[pts[1].revision])...)
		w := evalIDs(t, path, "", "--rules", v1)
		whole = append(whole, byRule(w, builtinIDs...)...)
		unchanged = append(unchanged, w...)
		before := evalIDs(t, splitFile(t, path, 0, int(b)), "", "--rules", v1)
		head = append(head, byRule(before, ruleDeleted)...)
		after := evalIDs(t, splitFile(t, path, int(b), 1<<30), "", "--rules", v2)
		tail = append(tail, byRule(before, ruleChanged)...) // the old version's, before
		oldChanged += len(byRule(before, ruleChanged))
		tail = append(tail, byRule(after, ruleChanged, ruleAdded)...)
		straddling += len(byRule(w, builtinIDs[0], builtinIDs[2])) - len(byRule(before, builtinIDs[0], builtinIDs[2])) - len(byRule(after, builtinIDs[0], builtinIDs[2]))
	}
	t.Logf("alerts: %d online; built-ins %d, %s %d before and %d after its change, %s %d, %s %d before its deletion; %d built-in sequences span a change boundary",
		len(got), len(whole), ruleChanged, oldChanged, len(byRule(tail, ruleChanged))-oldChanged, ruleAdded, len(byRule(tail, ruleAdded)), ruleDeleted, len(head), straddling)
	if straddling <= 0 {
		t.Errorf("no built-in sequence spans a change boundary: keeping pending matches across a change is not exercised")
	}
	for _, c := range []struct {
		what      string
		want, got []alert
	}{
		{"unchanged built-ins = eval over the whole input", whole, byRule(got, builtinIDs...)},
		{"changed and added rules = eval from the boundary on (old version before)", tail, byRule(got, ruleChanged, ruleAdded)},
		{"deleted rule = eval before the boundary", head, byRule(got, ruleDeleted)},
		{"all = eval replaying the committed revisions", exact, got},
	} {
		t.Run(strings.ReplaceAll(c.what, " ", "_"), func(t *testing.T) {
			if len(c.want) == 0 {
				t.Fatalf("%s: eval gives no alerts; nothing is compared", c.what)
			}
			checkExactlyOnce(t, c.want, c.got)
		})
	}
	// the exact check can fail: a replay that ignores the change differs
	if sameIDs(unchanged, got) {
		t.Errorf("eval without the rule change gives the online alerts too: the replay check proves nothing")
	}
	// no state record outlives its rule: in the compacted view of the state
	// topic, nothing of the deleted rule
	live := map[string]bool{}
	for _, r := range e.readCommitted(n.State, time.Minute) {
		live[string(r.Key)] = r.Value != nil
	}
	var left []string
	tombstoned := 0
	for k, v := range live {
		if strings.Contains(k, "/r/"+ruleDeleted+"/") {
			if v {
				left = append(left, k)
			} else {
				tombstoned++
			}
		}
	}
	sort.Strings(left)
	t.Logf("state records of the deleted rule: %d deleted, %d left", tombstoned, len(left))
	if len(left) > 0 {
		t.Errorf("%d state records of the deleted rule survive, e.g. %s", len(left), left[0])
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sameIDs(a, b []alert) bool {
	ids := func(as []alert) []string {
		out := make([]string, len(as))
		for i, x := range as {
			out[i] = x.ID
		}
		sort.Strings(out)
		return out
	}
	return strings.Join(ids(a), ",") == strings.Join(ids(b), ",")
}
