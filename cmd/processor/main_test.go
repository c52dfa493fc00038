package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
)

// A scenario of the rules package: three planted apt hooks that download from
// public addresses (28 events); the third hook runs python3, so both APT
// rules fire.
const scenario = "../../rules/testdata/scenarios/apt_package_manager_network_connection/tp_public_ipv4.ndjson"

const (
	aptExec   = "Suspicious APT Package Manager Execution"
	aptNetcon = "Suspicious APT Package Manager Network Connection"
)

type run struct {
	code           int
	stdout, stderr string
}

func eval(t *testing.T, stdin []byte, args ...string) run {
	t.Helper()
	var out, errb bytes.Buffer
	code := cmdEval(args, bytes.NewReader(stdin), &out, &errb)
	return run{code, out.String(), errb.String()}
}

// alertNames returns kibana.alert.rule.name of each alert line.
func alertNames(t *testing.T, stdout string) []string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if l == "" {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("alert line is not JSON: %v\n%s", err, l)
		}
		n, _ := d["kibana.alert.rule.name"].(string)
		names = append(names, n)
	}
	return names
}

func count(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}

// summary matches eval's summary: counts, then the per-rule lines in name order.
func summaryRE(events, alerts, bad int, perRule ...string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?m)^eval: ` + strconv.Itoa(events) + ` events, ` + strconv.Itoa(alerts) + ` alerts, ` + strconv.Itoa(bad) +
		` bad lines, 0 late events, 0 evicted states in \S+ \(\d+ events/s\)\n`)
	for _, p := range perRule {
		b.WriteString(regexp.QuoteMeta(p) + `\n`)
	}
	return regexp.MustCompile(b.String())
}

func readScenario(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestEvalScenario(t *testing.T) {
	r := eval(t, nil, scenario)
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	names := alertNames(t, r.stdout)
	if len(names) != 4 || count(names, aptNetcon) != 3 || count(names, aptExec) != 1 {
		t.Errorf("alerts %v, want 3 × %q and 1 × %q", names, aptNetcon, aptExec)
	}
	re := summaryRE(28, 4, 0, "       1  "+aptExec, "       3  "+aptNetcon)
	if !re.MatchString(r.stderr) {
		t.Errorf("summary:\n%s\nwant match of %s", r.stderr, re)
	}
	// --quiet: no summary; --output: alerts to a file
	out := filepath.Join(t.TempDir(), "alerts.ndjson")
	q := eval(t, nil, "--quiet", "--output", out, scenario)
	if q.code != exitOK || q.stderr != "" || q.stdout != "" {
		t.Errorf("--quiet --output: exit %d, stdout %q, stderr %q", q.code, q.stdout, q.stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != r.stdout {
		t.Errorf("--output file differs from stdout (err %v)", err)
	}
}

func TestEvalDeterministic(t *testing.T) {
	a, b := eval(t, nil, "--quiet", scenario), eval(t, nil, "--quiet", scenario)
	if a.code != exitOK || a.stdout == "" || a.stdout != b.stdout {
		t.Fatalf("two runs over %s differ (exit %d, %d and %d bytes)", scenario, a.code, len(a.stdout), len(b.stdout))
	}
	// and over a generated stream with attack chains, look-alikes and disorder
	g, err := gen.New(gen.Config{Seed: 3, Events: 20000, Hosts: 20, AttackRate: 0.03, LookalikeRate: 0.05,
		Disorder: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for {
		ev, _, ok := g.Next(nil)
		if !ok {
			break
		}
		in.Write(ev)
		in.WriteByte('\n')
	}
	a, b = eval(t, in.Bytes(), "--quiet", "-"), eval(t, in.Bytes(), "--quiet", "-")
	if a.code != exitOK || b.code != exitOK {
		t.Fatalf("exit %d, %d: %s", a.code, b.code, a.stderr)
	}
	if n := len(alertNames(t, a.stdout)); n == 0 || a.stdout != b.stdout {
		t.Fatalf("generated stream: %d alerts; runs identical: %v", n, a.stdout == b.stdout)
	}
}

// badInput is the scenario with a line that is not JSON as line 5.
func badInput(t *testing.T) string {
	t.Helper()
	lines := strings.SplitAfter(string(readScenario(t)), "\n")
	in := strings.Join(lines[:4], "") + "this is not json\n" + strings.Join(lines[4:], "")
	p := filepath.Join(t.TempDir(), "bad.ndjson")
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEvalBadLine(t *testing.T) {
	p := badInput(t)
	r := eval(t, nil, p)
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p) + `:5: .+ \(malformed_json\)$`)
	if !re.MatchString(r.stderr) {
		t.Errorf("stderr does not report %s:5:\n%s", p, r.stderr)
	}
	if n := len(alertNames(t, r.stdout)); n != 4 {
		t.Errorf("%d alerts, want 4: the bad line is skipped", n)
	}
	if !summaryRE(28, 4, 1, "       1  "+aptExec, "       3  "+aptNetcon).MatchString(r.stderr) ||
		!strings.Contains(r.stderr, "  bad: 1 malformed_json\n") {
		t.Errorf("summary:\n%s", r.stderr)
	}

	s := eval(t, nil, "--strict", p)
	if s.code != exitBadInput {
		t.Errorf("--strict: exit %d, want %d", s.code, exitBadInput)
	}
	if !re.MatchString(s.stderr) {
		t.Errorf("--strict: stderr does not report %s:5:\n%s", p, s.stderr)
	}
	if strings.Contains(s.stderr, "eval: 28 events") {
		t.Errorf("--strict went on after the bad line:\n%s", s.stderr)
	}
}

func TestEvalGzipAndStdin(t *testing.T) {
	data := readScenario(t)
	want := eval(t, nil, "--quiet", scenario)

	gz := filepath.Join(t.TempDir(), "events.ndjson.gz")
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gz, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := eval(t, nil, "--quiet", gz); r.code != exitOK || r.stdout != want.stdout {
		t.Errorf(".gz input: exit %d, stderr %q, same alerts: %v", r.code, r.stderr, r.stdout == want.stdout)
	}
	if r := eval(t, data, "--quiet", "-"); r.code != exitOK || r.stdout != want.stdout {
		t.Errorf("stdin (-): exit %d, stderr %q, same alerts: %v", r.code, r.stderr, r.stdout == want.stdout)
	}
	if r := eval(t, data, "--quiet"); r.code != exitOK || r.stdout != want.stdout {
		t.Errorf("no input argument (stdin): exit %d, same alerts: %v", r.code, r.stdout == want.stdout)
	}
	// a file that is not gzip despite its name
	bogus := filepath.Join(t.TempDir(), "plain.gz")
	os.WriteFile(bogus, data, 0o644)
	if r := eval(t, nil, "--quiet", bogus); r.code != exitFailure || !strings.Contains(r.stderr, bogus) {
		t.Errorf("plain text named .gz: exit %d, stderr %q", r.code, r.stderr)
	}
	// a missing file
	if r := eval(t, nil, "--quiet", filepath.Join(t.TempDir(), "missing.ndjson")); r.code != exitFailure {
		t.Errorf("missing file: exit %d", r.code)
	}
}

func TestEvalQuery(t *testing.T) {
	r := eval(t, nil, "--query", `process where event.action == "exec" and process.name in ("curl", "wget")`, scenario)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// only the inline query runs: the curl and the wget exec of the scenario
	names := alertNames(t, r.stdout)
	if len(names) != 2 || count(names, "Ad-hoc query") != 2 {
		t.Errorf("alerts %v, want 2 × Ad-hoc query", names)
	}
	if !strings.Contains(r.stdout, `"kibana.alert.rule.rule_id":"query"`) {
		t.Errorf("alerts do not carry rule id \"query\":\n%s", r.stdout)
	}
	// a sequence inline, alongside the built-in rules loaded with --rules
	seq := `sequence by host.id with maxspan=5s
	  [process where process.parent.name == "apt" and process.args == "-c"] by process.entity_id
	  [network where event.action == "connection_attempted"] by process.parent.entity_id`
	r = eval(t, nil, "--rules", "../../rules/builtin", "--query", seq, scenario)
	names = alertNames(t, r.stdout)
	if r.code != exitOK || count(names, "Ad-hoc query") != 3 || count(names, aptNetcon) != 3 || count(names, aptExec) != 1 {
		t.Errorf("--rules + --query: exit %d, alerts %v", r.code, names)
	}
	// a query that does not compile: caret and exit 3
	r = eval(t, nil, "--query", `process where process.name = "sh"`, scenario)
	want := "--query:1:28: use == for equality, not =\n" +
		"    process where process.name = \"sh\"\n" +
		"                               ^\n"
	if r.code != exitRules || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("bad --query: exit %d, stderr:\n%s\nwant prefix:\n%s", r.code, r.stderr, want)
	}
}

func TestCheckBroken(t *testing.T) {
	var out, errb bytes.Buffer
	code := cmdCheck([]string{"testdata/broken"}, &out, &errb)
	if code != exitRules {
		t.Errorf("exit %d, want %d", code, exitRules)
	}
	want := "testdata/broken/bad_cidr.toml:18:47: argument 3 of cidrMatch is not a CIDR block or IP address: \"172.16.0.0/33\"\n" +
		"      not cidrmatch(destination.ip, \"10.0.0.0/8\", \"172.16.0.0/33\")\n" +
		"                                                  ^\n" +
		"check: 2 files, 2 EQL rules: 1 compiled (0 sequences/samples), 1 failed, 0 warnings; 0 non-EQL rules skipped\n"
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if errb.Len() != 0 {
		t.Errorf("stderr: %s", errb.String())
	}
}

func TestCheckBuiltin(t *testing.T) {
	var out, errb bytes.Buffer
	code := cmdCheck([]string{"../../rules/builtin"}, &out, &errb)
	want := "check: 4 files, 4 EQL rules: 4 compiled (2 sequences/samples), 0 failed, 0 warnings; 0 non-EQL rules skipped\n"
	if code != exitOK || out.String() != want || errb.Len() != 0 {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", code, out.String(), errb.String(), want)
	}
}

func TestRulesBuiltin(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cmdRules(nil, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "ID SEVERITY KIND STATUS NAME" {
		t.Fatalf("output:\n%s", out.String())
	}
	want := map[string]string{ // id -> severity kind status name
		"7a756487-690f-4e73-922d-891a00202b9f": "low sequence ok " + aptExec,
		"007e138a-8a35-4afb-83ad-db3121eabf85": "medium sequence ok " + aptNetcon,
		"71e5ab27-ba4a-4851-8ef9-52296169170c": "low event ok Unusual DPKG Execution",
		"b0170349-ba6d-428a-9668-eb90b69b8de8": "medium event ok Executable Bit Set for Potential Persistence Script",
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if w, ok := want[f[0]]; !ok || strings.Join(f[1:], " ") != w {
			t.Errorf("line %q, want %q", l, w)
		}
		delete(want, f[0])
	}
	if len(want) > 0 {
		t.Errorf("missing: %v", want)
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	cases := []struct {
		name string
		run  func() int
	}{
		{"eval --bogus", func() int { return cmdEval([]string{"--bogus"}, nil, &out, &errb) }},
		{"check --bogus", func() int { return cmdCheck([]string{"--bogus", "x"}, &out, &errb) }},
		{"rules --bogus", func() int { return cmdRules([]string{"--bogus"}, &out, &errb) }},
		{"check without paths", func() int { return cmdCheck(nil, &out, &errb) }},
		{"eval --allowed-disorder notaduration", func() int {
			return cmdEval([]string{"--allowed-disorder", "soon"}, nil, &out, &errb)
		}},
		{"unknown command", func() int { return realMain([]string{"bogus"}) }},
		{"no command", func() int { return realMain(nil) }},
	}
	for _, c := range cases {
		out.Reset()
		errb.Reset()
		if code := c.run(); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", c.name, code, exitUsage)
		}
		if out.Len() != 0 {
			t.Errorf("%s: wrote to stdout: %s", c.name, out.String())
		}
		if strings.Contains(c.name, "--bogus") && !strings.Contains(errb.String(), "flag provided but not defined: -bogus") {
			t.Errorf("%s: stderr %q", c.name, errb.String())
		}
	}
}

// The summary is deterministic too: bad-line reasons are listed in name order.
func TestEvalBadReasonsOrdered(t *testing.T) {
	in := "not json\n" +
		`{"event":{"category":["process"]}}` + "\n" +
		`{"@timestamp":"yesterday","event":{"category":["process"]}}` + "\n" +
		`[1,2]` + "\n"
	want := "  bad: 1 invalid_timestamp\n  bad: 1 malformed_json\n  bad: 1 missing_timestamp\n  bad: 1 not_object\n"
	for i := range 20 {
		r := eval(t, []byte(in), "-")
		if r.code != exitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		_, tail, _ := strings.Cut(r.stderr, "bad: ")
		if got := "  bad: " + tail; got != want {
			t.Fatalf("run %d: summary ends\n%s\nwant\n%s", i, got, want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

// Alerts that cannot be written are a runtime failure, not a success.
func TestEvalWriteError(t *testing.T) {
	var errb bytes.Buffer
	code := cmdEval([]string{scenario}, nil, failWriter{}, &errb)
	if code != exitFailure {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitFailure, errb.String())
	}
}
