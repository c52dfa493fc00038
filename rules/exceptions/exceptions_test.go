package exceptions_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/exceptions"
)

const sample = "testdata/tuning_export.ndjson"

func loadSample(t *testing.T) *exceptions.Set {
	t.Helper()
	s, err := exceptions.Load(sample)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func list(t *testing.T, s *exceptions.Set, ns, id string) *exceptions.List {
	t.Helper()
	l, ok := s.Lookup(ns, id)
	if !ok {
		t.Fatalf("list %s (%s) not loaded", id, ns)
	}
	return l
}

type rule struct {
	id, query string
	excl      []engine.Exclusion
}

func compile(t *testing.T, rs ...rule) *engine.Program {
	t.Helper()
	return compileOpts(t, engine.Options{AllowedDisorder: -1}, rs...)
}

func compileOpts(t *testing.T, opts engine.Options, rs ...rule) *engine.Program {
	t.Helper()
	var defs []engine.RuleDef
	for _, r := range rs {
		defs = append(defs, engine.RuleDef{ID: r.id, Source: &eql.Source{Name: r.id, Text: r.query}, Exclusions: r.excl})
	}
	p, err := engine.Compile(defs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run feeds the events (refs 1..n) and returns each match as "rule:refs".
func run(t *testing.T, e *engine.Engine, evs []string) []string {
	t.Helper()
	var out []string
	add := func(ms []engine.Match) {
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s:%v", m.Rule.ID, m.Refs))
		}
	}
	for i, ev := range evs {
		ms, _, err := e.Process([]byte(ev), uint64(i+1))
		if err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
		add(ms)
	}
	add(e.Flush())
	return out
}

func TestLoadSampleExport(t *testing.T) {
	s := loadSample(t)
	ls := s.Lists()
	if len(ls) != 2 {
		t.Fatalf("%d lists, want 2", len(ls))
	}
	l := list(t, s, "single", "linux-tuning")
	if l.Type != "detection" || l.Name != "Linux tuning" || len(l.Items) != 9 {
		t.Fatalf("linux-tuning: type %q name %q, %d items, want detection, Linux tuning, 9", l.Type, l.Name, len(l.Items))
	}
	g := list(t, s, "agnostic", "global-allow")
	if len(g.Items) != 1 || g.Items[0].ItemID != "g-scanner" {
		t.Fatalf("global-allow items: %+v", g.Items)
	}
	if _, ok := s.Lookup("single", "global-allow"); ok {
		t.Fatal("global-allow found in the single namespace")
	}
	if _, ok := s.Lookup("", "global-allow"); !ok {
		t.Fatal("global-allow not found without a namespace")
	}
	var exp *exceptions.Item
	for i := range l.Items {
		if l.Items[i].ItemID == "i-expiring" {
			exp = &l.Items[i]
		}
	}
	if exp == nil || exp.ExpireTime.Format("2006-01-02T15:04:05Z07:00") != "2026-06-01T00:00:00Z" {
		t.Fatalf("i-expiring expire_time: %+v", exp)
	}
}

// ev builds a process event at minute m of 2026-07-01 (after i-expiring's
// expire_time) unless ts is given.
func ev(fields string) string {
	if !strings.Contains(fields, `"@timestamp"`) {
		fields = `"@timestamp":"2026-07-01T10:00:00Z",` + fields
	}
	return `{"event":{"category":"process"},` + fields + `}`
}

// TestEntrySemantics checks each entry type and operator against the
// Elasticsearch query Kibana builds for it (build_exception_filter.ts):
// the event rule `process where true` with linux-tuning attached keeps
// exactly the events the must_not(exception filter) keeps.
func TestEntrySemantics(t *testing.T) {
	l := list(t, loadSample(t), "single", "linux-tuning")
	indexed := compile(t, rule{"r", "process where true", l.Exclusions()})
	unindexed := compileOpts(t, engine.Options{AllowedDisorder: -1, DisableIndex: true}, rule{"r", "process where true", l.Exclusions()})
	cases := []struct {
		name     string
		event    string
		excluded bool
	}{
		// match -> match_phrase: exact on a keyword field, any of its values
		{"match", ev(`"process":{"name":"apt"}`), true},
		{"match is case-sensitive on keyword", ev(`"process":{"name":"APT"}`), false},
		{"match any value of an array", ev(`"process":{"name":["dpkg","apt"]}`), true},
		{"match is not a prefix", ev(`"process":{"name":"apt-get"}`), false},
		// match_any -> should of match_phrase
		{"match_any second value", ev(`"user":{"name":"nagios"}`), true},
		{"match_any other value", ev(`"user":{"name":"root"}`), false},
		// wildcard -> wildcard query, no case_insensitive: `?` is one character
		{"wildcard", ev(`"process":{"executable":"/opt/acme/bin/agent7"}`), true},
		{"wildcard ? needs one character", ev(`"process":{"executable":"/opt/acme/bin/agent"}`), false},
		{"wildcard * spans slashes", ev(`"process":{"executable":"/opt/a/b/bin/agentX"}`), true},
		{"wildcard is case-sensitive", ev(`"process":{"executable":"/OPT/acme/bin/agent7"}`), false},
		// exists, operator excluded -> must_not exists: the field is absent
		{"exists excluded: field absent", ev(`"host":{"name":"build-01"},"process":{"name":"make"}`), true},
		{"exists excluded: field present", ev(`"host":{"name":"build-01"},"process":{"name":"make","parent":{"name":"sh"}}`), false},
		{"exists excluded: null is absent", ev(`"host":{"name":"build-01"},"process":{"name":"make","parent":{"name":null}}`), true},
		// match, operator excluded -> must_not match_phrase
		{"match excluded: other value", ev(`"host":{"name":"ci-02"},"process":{"name":"make"}`), true},
		{"match excluded: the value", ev(`"host":{"name":"ci-02"},"process":{"name":"bash"}`), false},
		{"match excluded: field missing", ev(`"host":{"name":"ci-02"}`), true},
		{"match excluded: one of the values", ev(`"host":{"name":"ci-02"},"process":{"name":["make","bash"]}`), false},
		{"all entries must match", ev(`"host":{"name":"ci-03"},"process":{"name":"make"}`), false},
		// expire_time 2026-06-01: applies to events before it (event time)
		{"expiring item before expire_time", ev(`"@timestamp":"2026-05-31T23:59:59Z","process":{"name":"curl"}`), true},
		{"expired item at expire_time", ev(`"@timestamp":"2026-06-01T00:00:00Z","process":{"name":"curl"}`), false},
		{"expired item after expire_time", ev(`"process":{"name":"curl"}`), false},
		// os_types [windows] -> (host.os.type: windows OR host.os.name.caseless: windows) AND entries
		{"os_types host.os.type", ev(`"host":{"os":{"type":"windows"}},"process":{"name":"powershell.exe"}`), true},
		{"os_types host.os.name.caseless", ev(`"host":{"os":{"name":{"caseless":"windows"}}},"process":{"name":"powershell.exe"}`), true},
		{"os_types other os", ev(`"host":{"os":{"type":"linux"}},"process":{"name":"powershell.exe"}`), false},
		{"os_types os missing", ev(`"process":{"name":"powershell.exe"}`), false},
		// nested -> nested query: both inner entries on the same element
		{"nested one element matches", ev(`"process":{"Ext":{"code_signature":[{"subject_name":"Evil","trusted":true},{"subject_name":"Elastic","trusted":true}]}}`), true},
		{"nested single object", ev(`"process":{"Ext":{"code_signature":{"subject_name":"Elastic","trusted":true}}}`), true},
		{"nested split across elements", ev(`"process":{"Ext":{"code_signature":[{"subject_name":"Elastic","trusted":false},{"subject_name":"Evil","trusted":true}]}}`), false},
		{"nested dotted keys", ev(`"process.Ext.code_signature":[{"subject_name":"Elastic","trusted":true}]`), true},
		// match on a number and match_any CIDR on an ip
		{"number and ip", ev(`"process":{"parent":{"pid":1}},"source":{"ip":"10.20.30.40"}`), true},
		{"number and ip outside the block", ev(`"process":{"parent":{"pid":1}},"source":{"ip":"192.168.1.1"}`), false},
		{"number differs", ev(`"process":{"parent":{"pid":11}},"source":{"ip":"10.20.30.40"}`), false},
		{"no entry matches", ev(`"process":{"name":"vi"}`), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range []*engine.Program{indexed, unindexed} {
				e := p.NewEngine()
				got := run(t, e, []string{c.event})
				if excluded := len(got) == 0; excluded != c.excluded {
					t.Fatalf("excluded = %v, want %v (matches %v)", excluded, c.excluded, got)
				}
				var want uint64
				if c.excluded {
					want = 1
				}
				if n := e.Stats().Excluded; n != want {
					t.Fatalf("Stats().Excluded = %d, want %d", n, want)
				}
			}
		})
	}
}

// seqEvents: A starts a process, B and C are network events of the same
// host, B to the scanner target of global-allow, D ends the process.
var seqEvents = []string{
	`{"@timestamp":"2026-07-01T10:00:01Z","event":{"category":"process","action":"start"},"host":{"id":"h1"}}`,
	`{"@timestamp":"2026-07-01T10:00:02Z","event":{"category":"network"},"host":{"id":"h1"},"destination":{"ip":"10.0.0.1"}}`,
	`{"@timestamp":"2026-07-01T10:00:03Z","event":{"category":"network"},"host":{"id":"h1"},"destination":{"ip":"8.8.8.8"}}`,
	`{"@timestamp":"2026-07-01T10:00:04Z","event":{"category":"process","action":"end"},"host":{"id":"h1"}}`,
}

const seqQuery = `sequence by host.id [process where event.action == "start"] [network where true] [process where event.action == "end"]`

// TestSequenceExceptionRemovesMiddleEvent: in Elasticsearch's sequence
// algorithm the first network event B moves the partial sequence [A] to
// the second stage, so C finds nothing to extend and the match is [A,B,D].
// With B excluded by the filter, Elasticsearch never sees B, C extends [A]
// and the alert is [A,C,D] — not no alert, which dropping the [A,B,D] alert
// afterwards would give.
func TestSequenceExceptionRemovesMiddleEvent(t *testing.T) {
	g := list(t, loadSample(t), "agnostic", "global-allow")
	without := run(t, compile(t, rule{"seq", seqQuery, nil}).NewEngine(), seqEvents)
	if want := []string{"seq:[1 2 4]"}; !reflect.DeepEqual(without, want) {
		t.Fatalf("without exceptions: %v, want %v", without, want)
	}
	e := compile(t, rule{"seq", seqQuery, g.Exclusions()}).NewEngine()
	with := run(t, e, seqEvents)
	if want := []string{"seq:[1 3 4]"}; !reflect.DeepEqual(with, want) {
		t.Fatalf("with global-allow: %v, want %v", with, want)
	}
	if got, want := e.ExcludedCounts(), []engine.ExclusionCount{{RuleID: "seq", List: "global-allow", Events: 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ExcludedCounts = %v, want %v", got, want)
	}
}

// TestExceptionOnlyAffectsItsRule: the exception filter is part of one
// rule's request; another rule still sees the event.
func TestExceptionOnlyAffectsItsRule(t *testing.T) {
	g := list(t, loadSample(t), "agnostic", "global-allow")
	p := compile(t,
		rule{"tuned", `network where true`, g.Exclusions()},
		rule{"plain", `network where true`, nil})
	got := run(t, p.NewEngine(), seqEvents)
	if want := []string{"plain:[2]", "tuned:[3]", "plain:[3]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("matches %v, want %v", got, want)
	}
}

// TestUntilEventExcluded: an excluded `until` event is not in the search,
// so it does not end the sequence.
func TestUntilEventExcluded(t *testing.T) {
	const q = `sequence by host.id [process where event.action == "start"] [process where event.action == "end"] until [process where event.action == "kill"]`
	evs := []string{
		`{"@timestamp":"2026-07-01T10:00:01Z","event":{"category":"process","action":"start"},"host":{"id":"h1"}}`,
		`{"@timestamp":"2026-07-01T10:00:02Z","event":{"category":"process","action":"kill"},"host":{"id":"h1"},"process":{"name":"apt"}}`,
		`{"@timestamp":"2026-07-01T10:00:03Z","event":{"category":"process","action":"end"},"host":{"id":"h1"}}`,
	}
	if got := run(t, compile(t, rule{"u", q, nil}).NewEngine(), evs); len(got) != 0 {
		t.Fatalf("without exceptions the until event ends the sequence; got %v", got)
	}
	l := list(t, loadSample(t), "single", "linux-tuning")
	if got, want := run(t, compile(t, rule{"u", q, l.Exclusions()}).NewEngine(), evs), []string{"u:[1 3]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("with linux-tuning (kill event by apt excluded): %v, want %v", got, want)
	}
}

// TestMissingEventExcluded: an excluded event cannot fill a missing-event
// stage either: Elasticsearch never sees it, so the sequence is not
// cancelled.
func TestMissingEventExcluded(t *testing.T) {
	const q = `sequence by host.id with maxspan=1m [process where event.action == "start"] ![network where true] [process where event.action == "end"]`
	evs := []string{seqEvents[0], seqEvents[1], seqEvents[3]} // start, network to 10.0.0.1, end
	if got := run(t, compile(t, rule{"m", q, nil}).NewEngine(), evs); len(got) != 0 {
		t.Fatalf("without exceptions the network event cancels the sequence; got %v", got)
	}
	g := list(t, loadSample(t), "agnostic", "global-allow")
	got := run(t, compile(t, rule{"m", q, g.Exclusions()}).NewEngine(), evs)
	if want := []string{fmt.Sprintf("m:[1 %d 3]", uint64(engine.MissingRef))}; !reflect.DeepEqual(got, want) {
		t.Fatalf("with global-allow: %v, want %v", got, want)
	}
}

// TestSampleEventExcluded: samples take their first event per stage and
// key; an excluded event leaves the stage to the next one.
func TestSampleEventExcluded(t *testing.T) {
	const q = `sample by host.id [process where event.action == "start"] [network where true]`
	g := list(t, loadSample(t), "agnostic", "global-allow")
	if got, want := run(t, compile(t, rule{"s", q, nil}).NewEngine(), seqEvents), []string{"s:[1 2]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("without exceptions: %v, want %v", got, want)
	}
	if got, want := run(t, compile(t, rule{"s", q, g.Exclusions()}).NewEngine(), seqEvents), []string{"s:[1 3]"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("with global-allow: %v, want %v", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	const container = `{"list_id":"l","namespace_type":"single","type":"detection","name":"L"}`
	item := func(entries string) string {
		return `{"item_id":"it","list_id":"l","namespace_type":"single","type":"simple","entries":` + entries + `}`
	}
	cases := []struct {
		name string
		text string
		want string
		err  error
	}{
		{"bad JSON line", container + "\n" + `{"item_id":` + "\n", "x.ndjson:2: invalid JSON", exceptions.ErrSyntax},
		{"unknown entry type", container + "\n" + item(`[{"field":"a","operator":"included","type":"regex","value":"x"}]`),
			`x.ndjson:2: item it: entries[0]: field a: unknown entry type "regex"`, exceptions.ErrEntry},
		{"value list refused", container + "\n" + item(`[{"field":"source.ip","operator":"included","type":"list","list":{"id":"bad-ips.txt","type":"ip"}}]`),
			`x.ndjson:2: item it: entries[0]: field source.ip: entry refers to value list "bad-ips.txt": value lists are not supported`, exceptions.ErrValueList},
		{"bad operator", container + "\n" + item(`[{"field":"a","operator":"is","type":"match","value":"x"}]`),
			`x.ndjson:2: item it: entries[0]: field a: operator "is": want included or excluded`, exceptions.ErrEntry},
		{"match_any not an array", container + "\n" + item(`[{"field":"a","operator":"included","type":"match_any","value":"x"}]`),
			`x.ndjson:2: item it: entries[0]: field a: match_any wants a non-empty array of strings`, exceptions.ErrEntry},
		{"wildcard inside nested", container + "\n" + item(`[{"field":"n","type":"nested","entries":[{"field":"a","operator":"included","type":"wildcard","value":"x*"}]}]`),
			`x.ndjson:2: item it: entries[0]: field a: wildcard is not allowed inside nested`, exceptions.ErrEntry},
		{"item before its list", item(`[{"field":"a","operator":"included","type":"match","value":"x"}]`),
			`x.ndjson:1: item it: list "l" (single) is not defined earlier`, exceptions.ErrUnknownList},
		{"duplicate list", container + "\n\n" + container, `x.ndjson:3: exception list "l" (single) also defined at x.ndjson:1`, exceptions.ErrDuplicate},
		{"bad expire_time", container + "\n" + `{"item_id":"it","list_id":"l","expire_time":"tomorrow","entries":[{"field":"a","operator":"included","type":"exists"}]}`,
			`x.ndjson:2: item it: expire_time "tomorrow"`, exceptions.ErrEntry},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := exceptions.NewSet().Read("x.ndjson", strings.NewReader(c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			if !errors.Is(err, c.err) {
				t.Fatalf("error %v does not wrap %v", err, c.err)
			}
		})
	}
}
