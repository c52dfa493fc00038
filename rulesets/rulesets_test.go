package rulesets

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func builtinDocs() Docs {
	d := Docs{}
	for k, v := range rules.BuiltinFiles() {
		d[k] = v
	}
	return d
}

func build(t *testing.T, d Docs, rev string) (*rules.RuleSet, []error) {
	t.Helper()
	rs, xs, perrs := Parse(d, "topic", nil)
	set, cerrs := Compile(rs, xs, nil, engine.Options{}, rev)
	return set, append(perrs, cerrs...)
}

const dpkg = "71e5ab27-ba4a-4851-8ef9-52296169170c"

// rec is a record as a read_committed consumer with control records kept
// sees it; control records carry the producer's ID.
func rec(off int64, pid int64, txn, control bool, key string, value []byte) Entry {
	return Entry{Offset: off, ProducerID: pid, Transactional: txn, Control: control, Key: key, Value: value}
}

// TestReaderRevisions: a transaction's records apply together at its
// commit marker (revision = the offset after it); interleaved transactions
// of two producers apply separately; an abort marker applies nothing; a
// record written without a transaction applies at once; a tombstone
// deletes.
func TestReaderRevisions(t *testing.T) {
	r := NewReader()
	steps := []struct {
		rec     Entry
		applied bool
		rev     string
		keys    []string
	}{
		{rec(0, 1, true, false, "a", []byte("A")), false, "", nil},
		{rec(1, 2, true, false, "b", []byte("B")), false, "", nil},
		{rec(2, 1, true, false, "c", []byte("C")), false, "", nil},
		{rec(3, 1, true, true, "", nil), true, "4", []string{"a", "c"}},
		{rec(4, 2, true, true, "", nil), true, "5", []string{"a", "b", "c"}},
		{rec(5, 3, true, true, "", nil), false, "5", []string{"a", "b", "c"}}, // an abort: its records were filtered
		{rec(6, -1, false, false, "d", []byte("D")), true, "7", []string{"a", "b", "c", "d"}},
		{rec(7, 1, true, false, "a", nil), false, "7", []string{"a", "b", "c", "d"}},
		{rec(8, 1, true, true, "", nil), true, "9", []string{"b", "c", "d"}},
	}
	for i, s := range steps {
		if got := r.AddEntry(s.rec); got != s.applied || r.Revision != s.rev || !reflect.DeepEqual(r.Docs.Keys(), append([]string{}, s.keys...)) && len(s.keys)+len(r.Docs) > 0 {
			t.Fatalf("step %d: applied %v revision %q keys %v, want %v %q %v", i, got, r.Revision, r.Docs.Keys(), s.applied, s.rev, s.keys)
		}
	}
	if r.Pos != 9 {
		t.Fatalf("position %d, want 9", r.Pos)
	}
}

// TestParseAndCompile: the built-ins compile with fingerprints; a record
// whose key is not its rule_id, a TOML error and an EQL error are reported
// by key with file:line:col, and the rest compile.
func TestParseAndCompile(t *testing.T) {
	d := builtinDocs()
	set, errs := build(t, d, "3")
	if len(errs) != 0 || len(set.Program.Rules()) != 4 || set.Revision != "3" {
		t.Fatalf("built-ins: %d rules, revision %q, errors %v", len(set.Program.Rules()), set.Revision, errs)
	}
	d["wrong-key"] = d[dpkg]
	d["bad-toml"] = []byte("[rule\nname = 1\n")
	d["bad-eql"] = []byte(strings.Replace(strings.Replace(string(d[dpkg]), dpkg, "bad-eql", 1), `process.executable : "/var/lib/dpkg/info/*" and`, `process.executable : "/var/lib/dpkg/info/*" and and`, 1))
	set, errs = build(t, d, "4")
	if len(set.Program.Rules()) != 4 {
		t.Fatalf("%d rules compiled, want the 4 good ones", len(set.Program.Rules()))
	}
	got := map[string]string{}
	for _, e := range errs {
		var re *RuleError
		if !errors.As(e, &re) {
			t.Fatalf("error %v is not a RuleError", e)
		}
		got[re.Key] = e.Error()
	}
	for key, want := range map[string]string{
		"wrong-key": `the record key is "wrong-key" but the rule's rule_id is "` + dpkg + `"`,
		"bad-toml":  "topic/bad-toml.toml:1:",
		"bad-eql":   "topic/bad-eql.toml:58:51: unexpected keyword \"and\"",
	} {
		if !strings.Contains(got[key], want) {
			t.Errorf("%s: error %q, want it to contain %q", key, got[key], want)
		}
	}
	if !strings.Contains(got["bad-eql"], "\n") || !strings.Contains(got["bad-eql"], "^") {
		t.Errorf("bad-eql: no caret line: %q", got["bad-eql"])
	}
}

// TestExceptionListRecords: a rule naming an exception list compiles only
// when the list's record is in the topic, and the list changes the rule's
// fingerprint (its state machine).
func TestExceptionListRecords(t *testing.T) {
	export := `{"list_id":"trusted","namespace_type":"single","type":"detection","name":"trusted"}
{"list_id":"trusted","item_id":"i1","namespace_type":"single","type":"simple","name":"i1","entries":[{"field":"host.id","operator":"included","type":"match","value":"h1"}]}
{"exported_exception_list_count":1}
`
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ndjson")
	if err := os.WriteFile(path, []byte(export), 0o644); err != nil {
		t.Fatal(err)
	}
	xd, err := ExceptionRecords(path)
	if err != nil || len(xd) != 1 || strings.Count(string(xd[ExceptionListPrefix+"trusted"]), "\n") != 2 {
		t.Fatalf("exception records %q, %v", xd, err)
	}
	d := builtinDocs()
	withList := strings.Replace(string(d[dpkg]), "[rule]\n", "[rule]\nexceptions_list = [{id = \"x\", list_id = \"trusted\", type = \"detection\", namespace_type = \"single\"}]\n", 1)
	if withList == string(d[dpkg]) {
		t.Fatal("could not add exceptions_list")
	}
	plain, _ := build(t, d, "1")
	d[dpkg] = []byte(withList)
	_, errs := build(t, d, "2")
	if len(errs) != 1 || !errors.Is(errs[0], rules.ErrMissingList) {
		t.Fatalf("rule with a missing list: errors %v", errs)
	}
	d[ExceptionListPrefix+"trusted"] = xd[ExceptionListPrefix+"trusted"]
	set, errs := build(t, d, "3")
	if len(errs) != 0 || len(set.Program.Rules()) != 4 {
		t.Fatalf("with the list: %d rules, %v", len(set.Program.Rules()), errs)
	}
	diff := DiffSets(plain, set)
	if !reflect.DeepEqual(diff.Changed, []string{dpkg}) || len(diff.Added)+len(diff.Deleted) != 0 {
		t.Fatalf("diff after adding a list %+v, want %s changed", diff, dpkg)
	}
}

// TestLiveKeepsLastGood: the first revision runs even with a broken rule
// (without it); later, a revision with a broken rule is not applied and is
// counted, and the next good one is.
func TestLiveKeepsLastGood(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	l := NewLive(nil, m)
	d := builtinDocs()
	d["bad"] = []byte("not toml [")
	s1, errs := build(t, d, "5")
	if !l.Offer(s1, errs) || l.Current() != s1 {
		t.Fatal("the first revision did not run")
	}
	if value(m.RuleErrors) != 1 || value(m.Revision) != 5 || value(m.Loaded.WithLabelValues("sequence")) != 2 {
		t.Fatalf("metrics after the first revision: errors %v revision %v", value(m.RuleErrors), value(m.Revision))
	}
	delete(d, dpkg)
	s2, errs := build(t, d, "7")
	changed := l.Changed()
	if l.Offer(s2, errs) || l.Current() != s1 || value(m.ReloadFailures) != 1 || value(m.Revision) != 5 {
		t.Fatal("a revision with a broken rule replaced the running one")
	}
	delete(d, "bad")
	s3, errs := build(t, d, "9")
	if !l.Offer(s3, errs) || l.Current() != s3 || value(m.RuleErrors) != 0 || value(m.Revision) != 9 ||
		value(m.Loaded.WithLabelValues("event")) != 1 || value(m.Changes) != 1 {
		t.Fatal("the fixed revision did not run, or its metrics are wrong")
	}
	select {
	case <-changed:
	case <-time.After(time.Second):
		t.Fatal("Changed was not closed by a change")
	}
}

func TestPlanPush(t *testing.T) {
	topic := Docs{"a": []byte("1"), "b": []byte("2"), "c": []byte("3")}
	push := Docs{"a": []byte("1"), "b": []byte("9"), "d": []byte("4")}
	p := PlanPush(topic, push, false)
	if !reflect.DeepEqual(p, Plan{Add: []string{"d"}, Change: []string{"b"}, Same: []string{"a"}}) {
		t.Fatalf("plan %+v", p)
	}
	if p := PlanPush(topic, push, true); !reflect.DeepEqual(p.Delete, []string{"c"}) {
		t.Fatalf("prune plan %+v", p)
	}
}

// value reads a gauge or counter.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}
