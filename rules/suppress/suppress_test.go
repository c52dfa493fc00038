package suppress

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// The expected answers below are derived by hand from Elastic's
// documentation of alert suppression (the first alert of a group is
// created, later ones within the window are counted in
// kibana.alert.suppression.docs_count, .start/.end span the group's alerts,
// terms are {field, value} with sorted values or null) and from this
// package's mapping of the window to event time (see the doc comment).

var t0 = time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)

func ruleTOML(query, suppression string) string {
	return fmt.Sprintf(`[rule]
rule_id = "sup"
name = "Suppressed rule"
description = "d"
type = "eql"
language = "eql"
severity = "low"
risk_score = 21
version = 3
%s
query = '''%s'''

[rule.alert_suppression]
%s
`, "", query, suppression)
}

func compile(t *testing.T, toml string) *rules.RuleSet {
	t.Helper()
	r, err := rules.ParseTOML("sup.toml", []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile([]*rules.Rule{r}, engine.Options{AllowedDisorder: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// ev is an event at t0+sec with extra fields (a JSON object's members).
func ev(sec float64, fields string) string {
	ts := t0.Add(time.Duration(sec * float64(time.Second))).Format(time.RFC3339Nano)
	if fields != "" {
		fields = "," + fields
	}
	return fmt.Sprintf(`{"@timestamp":%q,"event":{"category":"process"}%s}`, ts, fields)
}

// out is an output reduced to what the tests compare.
type out struct {
	Kind  string // "alert", "plain" (no suppression fields) or "summary"
	Terms string // kibana.alert.suppression.terms as JSON
	Start string // seconds after t0 of .start and .end
	End   string
	Docs  int
}

func secs(s string) string {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "bad:" + s
	}
	return fmt.Sprint(tm.Sub(t0).Seconds())
}

func reduce(t *testing.T, o Output) out {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(o.Doc, &d); err != nil {
		t.Fatalf("output is not JSON: %v: %s", err, o.Doc)
	}
	if d["kibana.alert.uuid"] != o.ID {
		t.Fatalf("kibana.alert.uuid %v, Output.ID %s", d["kibana.alert.uuid"], o.ID)
	}
	terms, ok := d["kibana.alert.suppression.terms"]
	if !ok {
		return out{Kind: "plain"}
	}
	tb, _ := json.Marshal(terms)
	r := out{Kind: "alert", Terms: string(tb), Start: secs(d["kibana.alert.suppression.start"].(string)),
		End: secs(d["kibana.alert.suppression.end"].(string)), Docs: int(d["kibana.alert.suppression.docs_count"].(float64))}
	if o.Summary {
		r.Kind = "summary"
	}
	return r
}

// run evaluates events as eval does: each event's alerts through Apply,
// then Close at the watermark; at the end a final flush.
func run(t *testing.T, set *rules.RuleSet, events []string) (outs []out, suppressed int) {
	t.Helper()
	e := set.Program.NewEngine()
	s := New(set)
	step := func(ms []engine.Match, raws map[uint64]string) {
		for _, m := range ms {
			doc, id, err := set.Alert(m, func(ref uint64) ([]byte, bool) { r, ok := raws[ref]; return []byte(r), ok }, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			os, dec, err := s.Apply(m, doc, id)
			if err != nil {
				t.Fatal(err)
			}
			if dec == Suppressed {
				suppressed++
			}
			for _, o := range os {
				outs = append(outs, reduce(t, o))
			}
		}
		for _, o := range s.Close(e.Watermark()) {
			outs = append(outs, reduce(t, o))
		}
	}
	raws := map[uint64]string{}
	for i, raw := range events {
		raws[uint64(i+1)] = raw
		ms, _, err := e.Process([]byte(raw), uint64(i+1))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		step(ms, raws)
	}
	step(e.Flush(), raws)
	return outs, suppressed
}

func check(t *testing.T, got []out, want []out) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		var b strings.Builder
		for _, o := range got {
			fmt.Fprintf(&b, "  %+v\n", o)
		}
		t.Fatalf("outputs:\n%swant %+v", b.String(), want)
	}
}

const h1, h2 = `[{"field":"host.id","value":["h1"]}]`, `[{"field":"host.id","value":["h2"]}]`

func TestWindowOpensAndClosesInEventTime(t *testing.T) {
	set := compile(t, ruleTOML("process where true", "group_by = [\"host.id\"]\nduration = {value = 5, unit = \"m\"}"))
	got, n := run(t, set, []string{
		ev(0, `"host":{"id":"h1"}`),   // opens h1 [0s, 300s): produced, docs_count 0
		ev(10, `"host":{"id":"h1"}`),  // suppressed
		ev(20, `"host":{"id":"h2"}`),  // opens h2 [20s, 320s)
		ev(299, `"host":{"id":"h1"}`), // suppressed (before 300s)
		ev(303, `"host":{"id":"h2"}`), // suppressed; the watermark (303-2=301s) passes 300s: h1's summary, 2 suppressed
		ev(330, `"host":{"id":"h1"}`), // h1 has no open window: opens [330s, 630s); watermark 328s closes h2 (1 suppressed)
		ev(335, `"host":{"id":"h1"}`), // suppressed; the end of the input closes h1 (1 suppressed)
	})
	check(t, got, []out{
		{"alert", h1, "0", "0", 0},
		{"alert", h2, "20", "20", 0},
		{"summary", h1, "0", "299", 2},
		{"alert", h1, "330", "330", 0},
		{"summary", h2, "20", "303", 1},
		{"summary", h1, "330", "335", 1},
	})
	if n != 4 {
		t.Fatalf("suppressed %d, want 4", n)
	}
}

func TestAlertAfterWindowEndClosesItBeforeTheWatermark(t *testing.T) {
	// Without a duration the window is the rule execution interval that
	// holds the first alert (interval 1m: [0s, 60s) here).
	toml := strings.Replace(ruleTOML("process where true", `group_by = ["host.id"]`), "version = 3", "version = 3\ninterval = \"1m\"", 1)
	set := compile(t, toml)
	got, _ := run(t, set, []string{
		ev(50, `"host":{"id":"h1"}`), // opens [0s, 60s)
		ev(59, `"host":{"id":"h1"}`), // suppressed
		ev(61, `"host":{"id":"h1"}`), // at or after the end (the watermark, 59s, has not closed it): summary, then a new window [60s, 120s)
		ev(58, `"host":{"id":"h1"}`), // late, but before the open window's end: suppressed into it
	})
	check(t, got, []out{
		{"alert", h1, "50", "50", 0},
		{"summary", h1, "50", "59", 1},
		{"alert", h1, "61", "61", 0},
		{"summary", h1, "61", "61", 1},
	})
}

func TestMissingFieldsStrategies(t *testing.T) {
	events := []string{
		ev(0, `"user":{"name":"alice"}`),
		ev(1, ``),
		ev(2, `"user":{"name":null}`),
		ev(3, `"user.name":"alice"`), // dotted key: the same field
		ev(4, `"user":{"name":[]}`),
	}
	alice, none := `[{"field":"user.name","value":["alice"]}]`, `[{"field":"user.name","value":null}]`
	// suppress (the default): alerts without a value form their own group
	got, n := run(t, compile(t, ruleTOML("process where true", `group_by = ["user.name"]`)), events)
	check(t, got, []out{
		{"alert", alice, "0", "0", 0},
		{"alert", none, "1", "1", 0},
		{"summary", alice, "0", "3", 1},
		{"summary", none, "1", "4", 2},
	})
	if n != 3 {
		t.Fatalf("suppressed %d, want 3", n)
	}
	// doNotSuppress: they are produced as ordinary alerts
	got, n = run(t, compile(t, ruleTOML("process where true", "group_by = [\"user.name\"]\nmissing_fields_strategy = \"doNotSuppress\"")), events)
	check(t, got, []out{
		{"alert", alice, "0", "0", 0},
		{"plain", "", "", "", 0},
		{"plain", "", "", "", 0},
		{"plain", "", "", "", 0},
		{"summary", alice, "0", "3", 1},
	})
	if n != 1 {
		t.Fatalf("suppressed %d, want 1", n)
	}
}

func TestArrayValuesSortedAndSeveralFields(t *testing.T) {
	set := compile(t, ruleTOML("process where true", `group_by = ["process.args", "host.id"]`))
	got, _ := run(t, set, []string{
		ev(0, `"process":{"args":["b","a"]},"host":{"id":"h1"}`),
		ev(1, `"process":{"args":["a","b"]},"host":{"id":"h1"}`), // same sorted values: suppressed
		ev(2, `"process":{"args":["a"]},"host":{"id":"h1"}`),     // another group
		ev(3, `"process":{"args":["a","b"]},"host":{"id":"h2"}`), // another group
	})
	ab1 := `[{"field":"process.args","value":["a","b"]},{"field":"host.id","value":["h1"]}]`
	a1 := `[{"field":"process.args","value":["a"]},{"field":"host.id","value":["h1"]}]`
	ab2 := `[{"field":"process.args","value":["a","b"]},{"field":"host.id","value":["h2"]}]`
	check(t, got, []out{
		{"alert", ab1, "0", "0", 0},
		{"alert", a1, "2", "2", 0},
		{"alert", ab2, "3", "3", 0},
		{"summary", ab1, "0", "1", 1},
	})
}

func TestSequenceTermsAreTheValuesAllEventsShare(t *testing.T) {
	q := `sequence by host.id with maxspan=1m [process where process.name == "a"] [process where process.name == "b"]`
	seq := func(sec float64, u1, u2 string) []string {
		return []string{
			ev(sec, `"host":{"id":"h1"},"process":{"name":"a"},"user":{"name":"`+u1+`"}`),
			ev(sec+1, `"host":{"id":"h1"},"process":{"name":"b"},"user":{"name":"`+u2+`"}`),
		}
	}
	var events []string
	events = append(events, seq(0, "alice", "alice")...)
	events = append(events, seq(10, "alice", "bob")...) // no shared user.name: not suppressed under doNotSuppress
	events = append(events, seq(20, "alice", "alice")...)
	set := compile(t, ruleTOML(q, "group_by = [\"host.id\", \"user.name\"]\nmissing_fields_strategy = \"doNotSuppress\"\nduration = {value = 1, unit = \"h\"}"))
	got, n := run(t, set, events)
	terms := `[{"field":"host.id","value":["h1"]},{"field":"user.name","value":["alice"]}]`
	check(t, got, []out{
		{"alert", terms, "1", "1", 0},
		{"plain", "", "", "", 0},
		{"summary", terms, "1", "21", 1},
	})
	if n != 1 {
		t.Fatalf("suppressed %d, want 1", n)
	}
}

func TestCheckScope(t *testing.T) {
	if err := CheckScope(compile(t, ruleTOML("process where true", `group_by = ["user.name", "host.id"]`)), "host.id"); err != nil {
		t.Fatal(err)
	}
	err := CheckScope(compile(t, ruleTOML("process where true", `group_by = ["user.name"]`)), "host.id")
	if err == nil || !strings.Contains(err.Error(), `rule sup (Suppressed rule, sup.toml): alert_suppression.group_by [user.name] does not include host.id`) {
		t.Fatalf("CheckScope: %v", err)
	}
}
