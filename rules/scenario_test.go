package rules

// Scenario tests for the built-in detections. testdata/scenarios/<detection>/
// holds hand-written Elastic Defend Linux events (<scenario>.ndjson) and, for
// each file, the alerts expected from the rule text (<scenario>.expected),
// also written by hand: one line per alert, "<rule name>: <event.id>...",
// the matched events in sequence order; "#" starts a comment; a file with no
// alert lines expects none. <detection> is the stem of the built-in rule
// file. There is deliberately no -update flag: the expectations come from
// reading the rules, not from running them.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/internal/testutil"
	"github.com/eqlstream/eqlstream/rules/engine"
)

const scenarioDir = "testdata/scenarios"

// evalOptions are the engine options `processor eval` uses by default
// (cmd/processor engineFlags): the same code path as the command.
func evalOptions() engine.Options {
	return engine.Options{
		TimestampField:  "@timestamp",
		CategoryField:   "event.category",
		AllowedDisorder: 2 * time.Second,
		MaxStates:       1_000_000,
	}
}

// scenarioAlert is one alert produced over a stream.
type scenarioAlert struct {
	rule string   // kibana.alert.rule.name
	ids  []string // event.id of the matched events, in sequence order
	id   string   // the ID RuleSet.Alert returned
	raw  []byte   // the alert document
	doc  map[string]any
}

// evalLines runs set over lines as `processor eval` does: Process each
// event, keep the bodies of retained events, render each match with
// RuleSet.Alert, trim the store, and flush at the end.
func evalLines(t testing.TB, set *RuleSet, lines [][]byte) []scenarioAlert {
	t.Helper()
	eng := set.Program.NewEngine()
	store := NewEventStore()
	var out []scenarioAlert
	emit := func(ms []engine.Match, cur []byte, curRef uint64) {
		for _, m := range ms {
			doc, id, err := set.Alert(m, func(r uint64) ([]byte, bool) {
				if r == curRef && cur != nil {
					return cur, true
				}
				return store.Get(r)
			}, time.Time{})
			if err != nil {
				t.Fatalf("alert: %v", err)
			}
			a := scenarioAlert{id: id, raw: doc}
			dec := json.NewDecoder(bytes.NewReader(doc))
			dec.UseNumber()
			if err := dec.Decode(&a.doc); err != nil {
				t.Fatalf("alert is not JSON: %v\n%s", err, doc)
			}
			a.rule, _ = a.doc["kibana.alert.rule.name"].(string)
			evs, _ := a.doc["events"].([]any)
			for _, e := range evs {
				em, _ := e.(map[string]any)
				id, _ := lookup(em, "event.id")
				s, _ := id.(string)
				a.ids = append(a.ids, s)
			}
			out = append(out, a)
		}
	}
	var ref uint64
	for i, raw := range lines {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		ref++
		ms, retained, err := eng.Process(raw, ref)
		if err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
		if retained {
			store.Put(ref, raw)
		}
		emit(ms, raw, ref)
		store.Trim(eng.MinLiveRef)
	}
	emit(eng.Flush(), nil, 0)
	return out
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for l := range bytes.SplitSeq(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

// readExpected parses a .expected file into "<rule>: <ids>" lines.
func readExpected(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rule, ids, ok := strings.Cut(line, ": ")
		if !ok || rule == "" || len(strings.Fields(ids)) == 0 {
			t.Fatalf("%s:%d: want \"<rule name>: <event.id>...\", got %q", path, n, line)
		}
		out = append(out, rule+": "+strings.Join(strings.Fields(ids), " "))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (a scenarioAlert) String() string { return a.rule + ": " + strings.Join(a.ids, " ") }

// byRule groups alert lines by rule, keeping their order within a rule.
func byRule(lines []string) map[string][]string {
	m := map[string][]string{}
	for _, l := range lines {
		rule, _, _ := strings.Cut(l, ": ")
		m[rule] = append(m[rule], l)
	}
	return m
}

func builtinSet(t testing.TB) *RuleSet {
	t.Helper()
	set, err := Compile(Builtin(), evalOptions())
	if err != nil {
		t.Fatalf("built-in rules: %v", err)
	}
	return set
}

type scenarioFile struct {
	detection, name, events, expected string
}

// scenarioFiles lists the scenarios, checking that every events file has
// its expectations and every detection directory names a built-in rule.
func scenarioFiles(t testing.TB) []scenarioFile {
	t.Helper()
	stems := map[string]bool{}
	for _, r := range Builtin() {
		stems[strings.TrimSuffix(filepath.Base(r.Path), ".toml")] = true
	}
	dirs, err := os.ReadDir(scenarioDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []scenarioFile
	seen := map[string]bool{}
	for _, d := range dirs {
		if !d.IsDir() {
			t.Errorf("%s: unexpected file %s", scenarioDir, d.Name())
			continue
		}
		if !stems[d.Name()] {
			t.Errorf("%s/%s: not the stem of a built-in rule file", scenarioDir, d.Name())
		}
		seen[d.Name()] = true
		dir := filepath.Join(scenarioDir, d.Name())
		evs, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
		exps, _ := filepath.Glob(filepath.Join(dir, "*.expected"))
		for _, e := range exps {
			if _, err := os.Stat(strings.TrimSuffix(e, ".expected") + ".ndjson"); err != nil {
				t.Errorf("%s: no events file", e)
			}
		}
		for _, e := range evs {
			exp := strings.TrimSuffix(e, ".ndjson") + ".expected"
			if _, err := os.Stat(exp); err != nil {
				t.Errorf("%s: no %s", e, filepath.Base(exp))
				continue
			}
			out = append(out, scenarioFile{d.Name(), strings.TrimSuffix(filepath.Base(e), ".ndjson"), e, exp})
		}
	}
	for s := range stems {
		if !seen[s] {
			t.Errorf("no scenarios for built-in rule %s", s)
		}
	}
	return out
}

func TestScenarios(t *testing.T) {
	set := builtinSet(t)
	names := map[string]string{} // file stem -> rule name
	for _, r := range Builtin() {
		names[strings.TrimSuffix(filepath.Base(r.Path), ".toml")] = r.Name
	}
	ownAlerts := map[string]int{}
	for _, sf := range scenarioFiles(t) {
		want := readExpected(t, sf.expected)
		for _, w := range want {
			if strings.HasPrefix(w, names[sf.detection]+": ") {
				ownAlerts[sf.detection]++
			}
		}
		t.Run(sf.detection+"/"+sf.name, func(t *testing.T) {
			var got []string
			for _, a := range evalLines(t, set, readLines(t, sf.events)) {
				got = append(got, a.String())
			}
			wm, gm := byRule(want), byRule(got)
			rules := map[string]bool{}
			for r := range wm {
				rules[r] = true
			}
			for r := range gm {
				rules[r] = true
			}
			keys := make([]string, 0, len(rules))
			for r := range rules {
				keys = append(keys, r)
			}
			sort.Strings(keys)
			for _, r := range keys {
				if !slices.Equal(wm[r], gm[r]) {
					t.Errorf("rule %q:\n got:\n  %s\n want:\n  %s", r,
						strings.Join(orNone(gm[r]), "\n  "), strings.Join(orNone(wm[r]), "\n  "))
				}
			}
		})
	}
	for det := range names {
		if ownAlerts[det] == 0 {
			t.Errorf("%s: no scenario expects an alert of its own rule", det)
		}
	}
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"(none)"}
	}
	return s
}

// TestScenarioEvents checks that the hand-written events look like Elastic
// Defend's: the fields the rules and alerts rely on, and event ids that are
// unique across all scenarios (the comparisons below key on them).
func TestScenarioEvents(t *testing.T) {
	ids := map[string]string{}
	for _, sf := range scenarioFiles(t) {
		for i, raw := range readLines(t, sf.events) {
			at := fmt.Sprintf("%s:%d", sf.events, i+1)
			var d map[string]any
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Errorf("%s: %v", at, err)
				continue
			}
			str := func(f string) string {
				v, _ := lookup(d, f)
				s, _ := v.(string)
				return s
			}
			arr := func(f string) []any {
				v, _ := lookup(d, f)
				a, _ := v.([]any)
				return a
			}
			if _, err := time.Parse(time.RFC3339Nano, str("@timestamp")); err != nil {
				t.Errorf("%s: @timestamp: %v", at, err)
			}
			id := str("event.id")
			if id == "" {
				t.Errorf("%s: no event.id", at)
			} else if prev, dup := ids[id]; dup {
				t.Errorf("%s: event.id %q also at %s", at, id, prev)
			}
			ids[id] = at
			if len(arr("event.category")) == 0 || len(arr("event.type")) == 0 {
				t.Errorf("%s: event.category and event.type must be arrays", at)
			}
			if str("event.action") == "" || str("host.id") == "" || str("host.name") == "" ||
				str("host.os.type") != "linux" || str("agent.type") != "endpoint" {
				t.Errorf("%s: want event.action, host.id, host.name, host.os.type linux, agent.type endpoint", at)
			}
			if str("process.entity_id") == "" || str("process.executable") == "" {
				t.Errorf("%s: want process.entity_id and process.executable", at)
			}
			cat := arr("event.category")[0]
			if cat == "process" && str("event.action") != "end" {
				if len(arr("process.args")) == 0 {
					t.Errorf("%s: process event without process.args", at)
				}
			}
		}
	}
	if len(ids) < 500 {
		t.Errorf("only %d scenario events", len(ids))
	}
}

// alertShape is what an alert of each built-in rule must say, from the
// rule files.
var alertShape = map[string]struct {
	file     string // scenario whose first alert of the rule is checked
	ruleID   string
	severity string
	risk     int
	kind     string
	tactics  []string
	keys     []string // eqlstream.join_keys fields
}{
	"Suspicious APT Package Manager Execution": {
		"apt_package_manager_execution/at_maxspan", "7a756487-690f-4e73-922d-891a00202b9f", "low", 21, "sequence",
		[]string{"TA0003", "TA0002", "TA0005"}, []string{"host.id", "process.entity_id"},
	},
	"Suspicious APT Package Manager Network Connection": {
		"apt_package_manager_network_connection/tp_public_ipv4", "007e138a-8a35-4afb-83ad-db3121eabf85", "medium", 47,
		"sequence", []string{"TA0003", "TA0011", "TA0005"}, []string{"host.id", "process.entity_id"},
	},
	"Unusual DPKG Execution": {
		"dpkg_unusual_execution/tp_unusual_parents", "71e5ab27-ba4a-4851-8ef9-52296169170c", "low", 21, "event",
		[]string{"TA0003", "TA0001"}, nil,
	},
	"Executable Bit Set for Potential Persistence Script": {
		"persistence_script_executable_bit/tp_chmod_modes", "b0170349-ba6d-428a-9668-eb90b69b8de8", "medium", 47,
		"event", []string{"TA0003", "TA0005"}, nil,
	},
}

func TestScenarioAlertDocuments(t *testing.T) {
	set := builtinSet(t)
	for name, want := range alertShape {
		t.Run(name, func(t *testing.T) {
			lines := readLines(t, filepath.Join(scenarioDir, want.file+".ndjson"))
			byID := map[string][]byte{}
			for _, l := range lines {
				var d map[string]any
				if err := json.Unmarshal(l, &d); err != nil {
					t.Fatal(err)
				}
				id, _ := lookup(d, "event.id")
				byID[id.(string)] = l
			}
			first := evalLines(t, set, lines)
			second := evalLines(t, set, lines)
			if len(first) != len(second) {
				t.Fatalf("second run: %d alerts, first %d", len(second), len(first))
			}
			seen := map[string]bool{}
			for i := range first {
				if !bytes.Equal(first[i].raw, second[i].raw) || first[i].id != second[i].id {
					t.Errorf("alert %d differs between two runs:\n%s\n%s", i, first[i].raw, second[i].raw)
				}
				if seen[first[i].id] {
					t.Errorf("alert id %s used twice", first[i].id)
				}
				seen[first[i].id] = true
			}
			var a *scenarioAlert
			for i := range first {
				if first[i].rule == name {
					a = &first[i]
					break
				}
			}
			if a == nil {
				t.Fatalf("%s: no alert of the rule", want.file)
			}
			d := a.doc
			get := func(f string) any {
				if v, ok := d[f]; ok { // the kibana.alert.* keys are flat
					return v
				}
				v, _ := lookup(d, f)
				return v
			}
			str := func(f string) string { s, _ := get(f).(string); return s }
			if got := str("kibana.alert.rule.name"); got != name {
				t.Errorf("kibana.alert.rule.name = %q", got)
			}
			for _, f := range []string{"rule.id", "kibana.alert.rule.rule_id", "kibana.alert.rule.uuid"} {
				if got := str(f); got != want.ruleID {
					t.Errorf("%s = %q, want %q", f, got, want.ruleID)
				}
			}
			if got := str("rule.name"); got != name {
				t.Errorf("rule.name = %q", got)
			}
			if got := str("kibana.alert.severity"); got != want.severity {
				t.Errorf("kibana.alert.severity = %q, want %q", got, want.severity)
			}
			if got := fmt.Sprint(get("kibana.alert.risk_score")); got != fmt.Sprint(want.risk) {
				t.Errorf("kibana.alert.risk_score = %s, want %d", got, want.risk)
			}
			if got := str("rule.category"); got != want.kind {
				t.Errorf("rule.category = %q, want %q", got, want.kind)
			}
			if got := str("event.kind"); got != "signal" {
				t.Errorf("event.kind = %q", got)
			}
			if got := str("kibana.alert.uuid"); got != a.id || len(got) != 16 {
				t.Errorf("kibana.alert.uuid = %q, RuleSet.Alert returned %q", got, a.id)
			}
			// the matched events, in order, byte for byte (compacted)
			evs, _ := d["events"].([]any)
			if len(evs) != len(a.ids) || len(evs) == 0 {
				t.Fatalf("events: %d", len(evs))
			}
			var full struct {
				Events []json.RawMessage `json:"events"`
			}
			if err := json.Unmarshal(a.raw, &full); err != nil {
				t.Fatal(err)
			}
			for i, id := range a.ids {
				var c bytes.Buffer
				if err := json.Compact(&c, byID[id]); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(c.Bytes(), full.Events[i]) {
					t.Errorf("events[%d] is not event %s as received", i, id)
				}
			}
			var firstEv, lastEv map[string]any
			_ = json.Unmarshal(byID[a.ids[0]], &firstEv)
			_ = json.Unmarshal(byID[a.ids[len(a.ids)-1]], &lastEv)
			ts := func(m map[string]any) string { v, _ := lookup(m, "@timestamp"); s, _ := v.(string); return s }
			if got := str("kibana.alert.original_time"); got != ts(firstEv) {
				t.Errorf("kibana.alert.original_time = %q, want the first event's %q", got, ts(firstEv))
			}
			if got := str("@timestamp"); got != ts(lastEv) {
				t.Errorf("@timestamp = %q, want the last event's %q", got, ts(lastEv))
			}
			hid, _ := lookup(firstEv, "host.id")
			if got := str("host.id"); got == "" || got != hid {
				t.Errorf("host.id = %q, want %v", got, hid)
			}
			var tactics []string
			threats, _ := d["threat"].([]any)
			for _, th := range threats {
				m, _ := th.(map[string]any)
				tac, _ := m["tactic"].(map[string]any)
				id, _ := tac["id"].(string)
				tactics = append(tactics, id)
			}
			if !slices.Equal(tactics, want.tactics) {
				t.Errorf("threat tactic ids = %v, want %v", tactics, want.tactics)
			}
			keys, _ := lookup(d, "eqlstream.join_keys")
			km, _ := keys.(map[string]any)
			var kf []string
			for k := range km {
				kf = append(kf, k)
			}
			sort.Strings(kf)
			if !slices.Equal(kf, want.keys) {
				t.Errorf("eqlstream.join_keys fields = %v, want %v", kf, want.keys)
			}
			for _, k := range want.keys {
				if v, _ := lookup(firstEv, k); fmt.Sprint(km[k]) != fmt.Sprint(v) {
					t.Errorf("eqlstream.join_keys[%s] = %v, want %v", k, km[k], v)
				}
			}
		})
	}
}

// TestElasticRulesIncludedInOurs runs Elastic's published versions of the
// four detections (from the corpus) and ours over every scenario and a
// generated stream, and checks that every match of Elastic's version is
// also one of ours, compared by the event.id lists of the matched events.
func TestElasticRulesIncludedInOurs(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	loaded, _, _ := LoadPath(filepath.Join(corpus, "rules", "linux")) // other files' problems are not ours
	ours := Builtin()
	want := map[string]bool{}
	for _, r := range ours {
		want[r.Name] = true
	}
	var elastic []*Rule
	for _, r := range loaded {
		if want[r.Name] {
			elastic = append(elastic, r)
		}
	}
	if len(elastic) != len(ours) {
		t.Fatalf("found %d of Elastic's %d rules by name in %s", len(elastic), len(ours), corpus)
	}
	eset, err := Compile(elastic, evalOptions())
	if err != nil {
		t.Fatalf("Elastic's rules: %v", err)
	}
	oset := builtinSet(t)

	type tuples map[string]map[string]bool // rule name -> "id id..." set
	collect := func(set *RuleSet, lines [][]byte, into tuples) {
		for _, a := range evalLines(t, set, lines) {
			if into[a.rule] == nil {
				into[a.rule] = map[string]bool{}
			}
			into[a.rule][strings.Join(a.ids, " ")] = true
		}
	}
	compare := func(source string, e, o tuples) {
		names := make([]string, 0, len(want))
		for n := range want {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			shared, missing := 0, []string{}
			for k := range e[n] {
				if o[n][k] {
					shared++
				} else {
					missing = append(missing, k)
				}
			}
			sort.Strings(missing)
			t.Logf("%-9s %-52s elastic %4d  ours %4d  shared %4d", source, n, len(e[n]), len(o[n]), shared)
			if len(missing) > 0 {
				t.Errorf("%s: %s: %d matches of Elastic's rule are not ours, e.g. %q",
					source, n, len(missing), missing[:min(5, len(missing))])
			}
		}
	}

	// every scenario file is its own stream
	es, os_ := tuples{}, tuples{}
	for _, sf := range scenarioFiles(t) {
		lines := readLines(t, sf.events)
		collect(eset, lines, es)
		collect(oset, lines, os_)
	}
	compare("scenarios", es, os_)

	// a generated stream with attack chains and look-alikes
	g, err := gen.New(gen.Config{Seed: 7, Events: 50000, Hosts: 100, AttackRate: 0.02, LookalikeRate: 0.05,
		Disorder: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for {
		b, _, ok := g.Next(nil)
		if !ok {
			break
		}
		lines = append(lines, b)
	}
	eg, og := tuples{}, tuples{}
	collect(eset, lines, eg)
	collect(oset, lines, og)
	st := g.Stats()
	t.Logf("gen: %d events, chains by kind %v, %d look-alikes", st.Events, st.ChainsByKind, st.Lookalikes)
	compare("gen", eg, og)
}
