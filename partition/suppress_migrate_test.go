package partition

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/suppress"
)

// suppressionSet compiles event rules with 1 h suppression windows per
// host; each rule is name=process.name[:duration in hours].
func suppressionSet(t *testing.T, revision string, specs ...string) *rules.RuleSet {
	t.Helper()
	var rs []*rules.Rule
	for _, sp := range specs {
		name, hours, _ := strings.Cut(sp, ":")
		if hours == "" {
			hours = "1"
		}
		src := fmt.Sprintf(`[rule]
rule_id = "sup-%s"
name = "Suppressed %s"
description = "d"
type = "eql"
language = "eql"
severity = "low"
risk_score = 21
version = 1
query = '''process where process.name == "%s"'''

[rule.alert_suppression]
group_by = ["host.id"]
duration = {value = %s, unit = "h"}
`, name, name, name, hours)
		r, err := rules.ParseTOML(name+".toml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	set, err := rules.Compile(rs, engine.Options{AllowedDisorder: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	set.Revision = revision
	return set
}

// suppressStep processes one event of process name at second sec in its
// own committed transaction and returns the suppression decisions.
func suppressStep(t *testing.T, p *Processor, set *rules.RuleSet, log *stateLog, name string, sec int) []suppress.Decision {
	t.Helper()
	ev := []byte(fmt.Sprintf(`{"@timestamp":"2026-07-01T10:00:%02dZ","event":{"category":"process"},"host":{"id":"h1"},"process":{"name":%q}}`, sec, name))
	p.Begin()
	ms, _, err := p.Engine.Process(ev, uint64(p.Next+1))
	if err != nil {
		t.Fatal(err)
	}
	var decs []suppress.Decision
	for _, m := range ms {
		doc, id, err := set.Alert(m, func(uint64) ([]byte, bool) { return ev, true }, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		_, dec, err := p.Suppress.Apply(m, doc, id)
		if err != nil {
			t.Fatal(err)
		}
		decs = append(decs, dec)
	}
	p.Next++
	log.commit(p)
	return decs
}

// commit appends the transaction's state records and commits it.
func (l *stateLog) commit(p *Processor) {
	l.recs = append(l.recs, p.PendingState()...)
	p.Committed()
}

// windowRecords returns the suppression records of recs: key (after the
// partition prefix) -> "tombstone" or "window".
func windowRecords(recs []StateRecord) map[string]string {
	out := map[string]string{}
	for _, r := range recs {
		k, ok := strings.CutPrefix(string(r.Key), KeyPrefix(tp)+suppress.KeyPrefix)
		if !ok {
			continue
		}
		if r.Value == nil {
			out[k] = "tombstone"
		} else {
			out[k] = "window"
		}
	}
	return out
}

func ruleOf(k string) string { return k[:strings.LastIndexByte(k, '/')] }

// TestRuleChangeMigratesSuppressionWindows: at a rule-set change, the open
// window of an unchanged rule is kept with its count, the windows of a rule
// whose suppression duration changed and of a deleted rule are dropped, and
// their records are deleted in the transaction that commits the change —
// live (Migrate) and when the committed state is restored under the new
// revision, alike.
func TestRuleChangeMigratesSuppressionWindows(t *testing.T) {
	setA := suppressionSet(t, "1", "keep", "chg", "del")
	setB := suppressionSet(t, "2", "keep", "chg:2")
	var log stateLog
	p := New(tp, setA, 0)
	for i, name := range []string{"keep", "chg", "del", "keep", "chg", "del"} {
		want := suppress.Opened
		if i >= 3 {
			want = suppress.Suppressed
		}
		if d := suppressStep(t, p, setA, &log, name, i); len(d) != 1 || d[0] != want {
			t.Fatalf("event %d (%s): decisions %v, want [%v]", i, name, d, want)
		}
	}
	if p.Suppress.Open() != 3 {
		t.Fatalf("%d windows open before the change, want 3", p.Suppress.Open())
	}
	committed := log.compacted()
	base := append([]StateRecord(nil), log.recs...)
	next := p.Next

	// live
	p.Migrate(setB)
	if !p.NeedsCommit() {
		t.Fatal("a change that drops windows needs no commit")
	}
	p.Begin()
	change := p.PendingState()
	log.recs = append(log.recs, change...)
	p.Committed()
	got := windowRecords(change)
	rulesOf := map[string]string{}
	for k, v := range got {
		rulesOf[ruleOf(k)] = v
	}
	want := map[string]string{"sup-chg": "tombstone", "sup-del": "tombstone"}
	if fmt.Sprint(rulesOf) != fmt.Sprint(want) || len(got) != 2 {
		t.Fatalf("live change's suppression records %v, want tombstones of exactly the changed and deleted rules' windows %v", got, want)
	}
	if p.Suppress.Open() != 1 || p.Suppress.OpenOf("sup-keep") != 1 {
		t.Fatalf("after the change: %d windows open (%d of sup-keep), want only sup-keep's", p.Suppress.Open(), p.Suppress.OpenOf("sup-keep"))
	}

	// restored under the new revision
	rs := NewRestorer(tp)
	keys := make([]string, 0, len(committed))
	for k := range committed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rs.Add([]byte(k), committed[k])
	}
	q, err := rs.Build(setB, next)
	if err != nil {
		t.Fatal(err)
	}
	if !q.NeedsCommit() || q.Suppress.Open() != 1 || q.Suppress.OpenOf("sup-keep") != 1 {
		t.Fatalf("restored under revision 2: needs commit %v, %d windows open (%d of sup-keep)", q.NeedsCommit(), q.Suppress.Open(), q.Suppress.OpenOf("sup-keep"))
	}
	// the pipeline commits the change in a transaction of its own (syncRules)
	q.Begin()
	qchange := q.PendingState()
	q.Committed()
	if fmt.Sprint(windowRecords(qchange)) != fmt.Sprint(got) {
		t.Fatalf("restored: the change's suppression records %v, want the live change's %v", windowRecords(qchange), got)
	}
	var qlog stateLog
	// both continue alike: sup-keep's window suppresses with the count it
	// had, sup-chg opens a new window, sup-del is gone
	for _, c := range []struct {
		proc *Processor
		log  *stateLog
	}{{p, &log}, {q, &qlog}} {
		for i, x := range []struct {
			name string
			want []suppress.Decision
		}{{"keep", []suppress.Decision{suppress.Suppressed}}, {"chg", []suppress.Decision{suppress.Opened}}, {"del", nil}} {
			if d := suppressStep(t, c.proc, setB, c.log, x.name, 10+i); fmt.Sprint(d) != fmt.Sprint(x.want) {
				t.Fatalf("after the change, %s: decisions %v, want %v", x.name, d, x.want)
			}
		}
	}
	a, b := p.Suppress.Records(), q.Suppress.Records()
	if fmt.Sprint(a) != fmt.Sprint(b) || len(a) != 2 {
		t.Fatalf("open windows live %v, restored %v: want the same two", a, b)
	}
	// the compacted topic holds no window of a rule that is gone or changed
	for _, l := range []*stateLog{&log, {recs: append(append(base, qchange...), qlog.recs...)}} {
		for k := range l.compacted() {
			if strings.Contains(k, "/s/sup-del/") {
				t.Fatalf("record %s outlives its deleted rule", k)
			}
		}
	}
}
