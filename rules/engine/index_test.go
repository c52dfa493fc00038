package engine

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/rules/eql"
)

// needString describes the clause a stage is indexed by ("" for none):
// needs joined by " or ", each field[~]=keys|prefix*.
func needString(p *Program, s *stage) string {
	c, ok := bestClause(p.sch, needsOf(p.sch, s.where))
	if !ok {
		return ""
	}
	var parts []string
	for _, n := range c {
		fold := ""
		if n.fold {
			fold = "~"
		}
		vals := append([]string(nil), n.keys...)
		for _, pfx := range n.prefixes {
			vals = append(vals, pfx+"*")
		}
		parts = append(parts, p.sch.names[n.slot]+fold+"="+strings.Join(vals, "|"))
	}
	return strings.Join(parts, " or ")
}

func TestIndexNeeds(t *testing.T) {
	cases := []struct{ where, want string }{
		{`process.name == "sh"`, "process.name=sh"},
		{`"sh" == process.name`, "process.name=sh"},
		{`process.name in ("sh", "bash", "sh")`, "process.name=bash|sh"},
		{`process.name in~ ("SH", "Bash")`, "process.name~=bash|sh"},
		{`process.name : ("SH", "bash")`, "process.name~=bash|sh"},
		{`process.name like ("SH", "bash")`, "process.name=SH|bash"},
		{`process.name like~ "SH"`, "process.name~=sh"},
		// the narrowest conjunct on the most selective field wins
		{`host.os.type == "linux" and event.type == "start" and process.name in ("a", "b")`, "process.name=a|b"},
		{`event.action in ("exec", "fork") and host.os.type == "linux"`, "event.action=exec|fork"},
		{`process.args == "-c" and process.parent.name in ("a", "b", "c")`, "process.parent.name=a|b|c"},
		{`process.name in ("a", "b", "c") and process.name == "a"`, "process.name=a"},
		// disjunctions: a field needed on every side
		{`(process.name == "chmod" and process.args : "+x") or (process.name == "install" and process.args : "-m*")`, "process.name=chmod|install"},
		{`process.name == "A" or process.name : "b"`, "process.name~=a|b"},
		{`process.name == "a" or file.name == "b"`, "process.name=a or file.name=b"},
		{`(event.category == "process" and process.name == "a") or (event.category == "network" and event.action == "x")`, "process.name=a or event.action=x"},
		{`process.name == "a" or true`, ""},
		// not indexable: compared by value, patterns, negations, functions
		{`process.name == "1"`, ""},
		{`process.name == "10.0.0.1"`, ""},
		{`process.name == "::1"`, ""},
		{`process.name == "true"`, ""},
		{`process.name in ("a", "2")`, ""},
		{`process.name in ("a", "FALSE")`, ""},
		{`process.name in ("a", null)`, ""},
		{`not process.name in ("a", "b")`, ""},
		{`process.name != "a"`, ""},
		{`not process.name == "a"`, ""},
		{`process.name : ("a*", "b")`, "process.name~=b|a*"},
		{`process.name : ("python*", "perl", "/usr/lib/python3*")`, "process.name~=perl|/usr*|pyth*"},
		{`process.name : "a?"`, "process.name~=a*"},
		{`process.name like "A*b?c"`, "process.name=A*"},
		{`process.name : ("a*", "*b")`, ""},
		{`process.name : "*"`, ""},
		{`process.name : "?a"`, ""},
		{`process.name regex "a"`, ""},
		{`startsWith(process.name, "a")`, ""},
		{`true`, ""},
	}
	for _, c := range cases {
		p, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: "process where " + c.where}}}, Options{})
		if err != nil {
			t.Errorf("%s: %v", c.where, err)
			continue
		}
		if got := needString(p, p.all[0]); got != c.want {
			t.Errorf("%s: indexed by %q, want %q", c.where, got, c.want)
		}
	}
}

// TestIndexCoverage reports how the Linux corpus stages are indexed and
// guards against the index silently degrading to the category alone.
func TestIndexCoverage(t *testing.T) {
	p := compileDefs(t, linuxDefs(t), Options{})
	byField := map[string]int{}
	indexed := 0
	for _, s := range p.all {
		if n := needString(p, s); n != "" {
			indexed++
			for _, part := range strings.Split(n, " or ") {
				byField[part[:strings.IndexAny(part, "~=")]]++
			}
		}
	}
	var fields []string
	for f, n := range byField {
		fields = append(fields, fmt.Sprintf("%s:%d", f, n))
	}
	sort.Strings(fields)
	t.Logf("%d of %d stages indexed by a constant: %v", indexed, len(p.all), fields)
	if indexed*10 < len(p.all)*6 {
		t.Errorf("only %d of %d Linux corpus stages are indexed", indexed, len(p.all))
	}
}

// processExact feeds events and returns, per event, the matches in the
// order Process returned them (and whether the event was retained), then
// the matches of Flush.
func processExact(t *testing.T, p *Program, evs [][]byte) []string {
	t.Helper()
	e := p.NewEngine()
	var out []string
	for i, raw := range evs {
		ms, retained, err := e.Process(raw, uint64(i))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		out = append(out, fmt.Sprint(retained, matchStrings(ms)))
	}
	return append(out, fmt.Sprint(matchStrings(e.Flush())))
}

func compareIndex(t *testing.T, name string, defs []RuleDef, evs [][]byte) {
	t.Helper()
	on := processExact(t, compileDefs(t, defs, Options{}), evs)
	off := processExact(t, compileDefs(t, defs, Options{DisableIndex: true}), evs)
	matches := 0
	for i := range on {
		if on[i] != off[i] {
			t.Fatalf("%s, event %d: index on %s, index off %s", name, i, on[i], off[i])
		}
		if strings.Contains(on[i], ":") {
			matches++
		}
	}
	if matches == 0 {
		t.Fatalf("%s: no matches at all", name)
	}
	t.Logf("%s: %d events, %d with matches, identical with the index on and off", name, len(evs), matches)
}

// TestIndexDifferentialCorpus: the Linux corpus rules and the built-in
// detections over generated events, with attacks and look-alikes, give the
// same matches in the same order with the index on and off.
func TestIndexDifferentialCorpus(t *testing.T) {
	g, err := gen.New(gen.Config{Seed: 7, Events: 6000, Hosts: 8, AttackRate: 0.05, LookalikeRate: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	var evs [][]byte
	for {
		b, _, ok := g.Next(nil)
		if !ok {
			break
		}
		evs = append(evs, b)
	}
	if testing.Short() {
		evs = evs[:1500]
	}
	compareIndex(t, "seed", seedDefs(t), evs)
	compareIndex(t, "linux", linuxDefs(t), evs)
}

// indexQueries exercise each kind of need, with values that differ only in
// case, numbers, addresses, booleans and arrays in the events.
var indexQueries = []string{
	`process where process.name == "sh"`,
	`process where process.name == "Sh"`,
	`process where process.name in ("sh", "bash")`,
	`process where process.name in~ ("SH", "zsh")`,
	`process where process.name : ("SH", "dash")`,
	`process where process.name : "python*"`,
	`process where process.name : ("PY*", "ba?h", "z*h")`,
	`process where process.name like ("B*", "s?")`,
	`any where process.name : "p*" or file.name : "A.*"`,
	`process where process.name like ("sh", "Bash")`,
	`process where process.name like~ "BASH"`,
	`process where process.args == "-c" and process.name != "sh"`,
	`process where process.args : "-C"`,
	`any where process.name == "sh"`,
	`any where file.name in ("a.sh", "B.SH") or process.name == "sh"`,
	`file where (file.name == "a.sh" and file.size > 1) or (file.name : "b.sh" and true)`,
	`process where process.name == "22" or process.pid == 22`,
	`process where process.pid : "22"`,
	`process where process.name == "10.0.0.1"`,
	`process where process.name in ("true", "x")`,
	`process where process.flag == "true"`,
	`network where destination.ip == "10.0.0.1" or destination.ip == "::1"`,
	`process where event.type == "start" and host.os.type == "linux"`,
	`sequence by host.id [process where process.name == "sh"] [process where process.name == "bash"]`,
	`sequence by host.id [process where process.name in ("sh", "bash")] with runs=2`,
	`sequence by host.id with maxspan=1m [process where process.name : "SH"] ![file where file.name == "a.sh"] [network where true]`,
	`sequence by host.id [any where process.name == "sh"] [any where file.name : "a.sh"] until [process where process.name == "exit"]`,
}

func randomIndexEvents(seed uint64, n int) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	var out [][]byte
	for i := 0; i < n; i++ {
		cat := pick(`"process"`, `"file"`, `"network"`, `["process","file"]`, `[]`, `"other"`, `7`)
		name := pick(`"sh"`, `"Sh"`, `"SH"`, `"bash"`, `"Bash"`, `"zsh"`, `"dash"`, `"python3"`, `22`, `"22"`, `"10.0.0.1"`,
			`"true"`, `true`, `["sh","x"]`, `["x","bash"]`, `null`, `"exit"`, `{}`)
		var b strings.Builder
		fmt.Fprintf(&b, `{"@timestamp":%d,"event":{"category":%s,"type":%s},"host":{"id":"h%d","os":{"type":"linux"}}`,
			1_700_000_000_000+int64(i)*200, cat, pick(`"start"`, `["start","change"]`, `"end"`), r.IntN(3))
		if r.IntN(10) < 8 {
			if r.IntN(2) == 0 {
				fmt.Fprintf(&b, `,"process":{"name":%s,"pid":%s,"args":%s,"flag":%s}`, name, pick(`22`, `"22"`, `7`),
					pick(`["sh","-c"]`, `["SH","-C"]`, `"-c"`, `[]`), pick(`true`, `"true"`, `false`))
			} else {
				fmt.Fprintf(&b, `,"process.name":%s`, name)
			}
		}
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, `,"file":{"name":%s,"size":%d}`, pick(`"a.sh"`, `"A.SH"`, `"b.sh"`, `"B.SH"`, `["x","a.sh"]`), r.IntN(3))
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, `,"destination":{"ip":%s}`, pick(`"10.0.0.1"`, `"0:0::1"`, `"::ffff:10.0.0.1"`, `"1.2.3.4"`))
		}
		b.WriteString("}")
		out = append(out, []byte(b.String()))
	}
	return out
}

// TestIndexDifferentialRandom compares the index on and off for queries
// built around each kind of indexed condition.
func TestIndexDifferentialRandom(t *testing.T) {
	var defs []RuleDef
	for i, q := range indexQueries {
		defs = append(defs, RuleDef{ID: fmt.Sprintf("i%02d", i), Source: &eql.Source{Text: q}})
	}
	for seed := uint64(1); seed <= 3; seed++ {
		compareIndex(t, fmt.Sprintf("seed %d", seed), defs, randomIndexEvents(seed, 4000))
	}
	// every query matched something
	p := compileDefs(t, defs, Options{})
	seen := map[string]bool{}
	for _, line := range processExact(t, p, randomIndexEvents(1, 4000)) {
		for _, id := range defs {
			if strings.Contains(line, id.ID+":") {
				seen[id.ID] = true
			}
		}
	}
	for i, d := range defs {
		if !seen[d.ID] {
			t.Errorf("query %q never matched: the test exercises nothing", indexQueries[i])
		}
	}
}

// TestMemoDifferential: memoizing conditions per event does not change
// matches, for the corpus, the built-in rules and the index test queries.
func TestMemoDifferential(t *testing.T) {
	evs := loadBenchEvents(t)[:3000]
	var defs []RuleDef
	for i, q := range append(append([]string{}, indexQueries...), diffQueries...) {
		defs = append(defs, RuleDef{ID: fmt.Sprintf("m%02d", i), Source: &eql.Source{Text: q}})
	}
	sets := []struct {
		name string
		defs []RuleDef
		evs  [][]byte
	}{
		{"linux", linuxDefs(t), evs},
		{"seed", seedDefs(t), evs},
		{"queries", defs, randomIndexEvents(9, 3000)},
	}
	for _, set := range sets {
		on, err := compile(set.defs, Options{}, newMemoTable())
		if err != nil {
			t.Fatal(err)
		}
		off, err := compile(set.defs, Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, b := processExact(t, on, set.evs), processExact(t, off, set.evs)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s, event %d: memo on %s, memo off %s", set.name, i, a[i], b[i])
			}
		}
	}
}
