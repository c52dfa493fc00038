package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every command answers --help (and -h) on stdout with exit 0.
func TestHelpExitsZero(t *testing.T) {
	cmds := map[string]func(args []string, out, errb *bytes.Buffer) int{
		"eval":    func(a []string, o, e *bytes.Buffer) int { return cmdEval(a, nil, o, e) },
		"check":   func(a []string, o, e *bytes.Buffer) int { return cmdCheck(a, o, e) },
		"rules":   func(a []string, o, e *bytes.Buffer) int { return cmdRules(a, o, e) },
		"gen":     func(a []string, o, e *bytes.Buffer) int { return cmdGen(a, o, e) },
		"version": func(a []string, o, e *bytes.Buffer) int { return cmdVersion(a, o, e) },
	}
	for name, run := range cmds {
		for _, h := range []string{"--help", "-h"} {
			var out, errb bytes.Buffer
			if code := run([]string{h}, &out, &errb); code != exitOK {
				t.Errorf("%s %s: exit %d, want 0 (stderr %q)", name, h, code, errb.String())
			}
			if !strings.HasPrefix(out.String(), "usage: processor "+name) {
				t.Errorf("%s %s: stdout %q, want the usage", name, h, out.String())
			}
		}
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cmdVersion(nil, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !regexp.MustCompile(`^eqlstream processor \S+ \(commit \S+, go1\.\d+\S* \w+/\w+\)\n$`).MatchString(out.String()) {
		t.Errorf("version: %q", out.String())
	}
	if code := cmdVersion([]string{"extra"}, &out, &errb); code != exitUsage {
		t.Errorf("version extra: exit %d, want %d", code, exitUsage)
	}
}

// No silent fallbacks: an empty --query is an error, not "evaluate the
// built-ins"; a path given to rules as an argument is listed, not ignored.
func TestNoSilentFallbacks(t *testing.T) {
	r := eval(t, []byte(`{"@timestamp":"2026-01-01T00:00:00Z"}`), "--query", "")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--query is empty") || r.stdout != "" {
		t.Errorf("eval --query '': exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	dir := t.TempDir()
	src, err := os.ReadFile("../../rules/builtin/dpkg_unusual_execution.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "one.toml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cmdRules([]string{dir}, &out, &errb); code != exitOK {
		t.Fatalf("rules DIR: exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "Unusual DPKG Execution") {
		t.Errorf("rules DIR listed %q, want the header and the one rule in DIR", out.String())
	}
}

func TestGenErrorNamesItsCommandOnce(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cmdGen([]string{"--events", "-1"}, &out, &errb); code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	if got := errb.String(); got != "gen: invalid config: events must not be negative, got -1\n" {
		t.Errorf("stderr %q", got)
	}
}

// check's summary names each warning class in full, never cut mid-word.
func TestCheckWarningSummary(t *testing.T) {
	dir := t.TempDir()
	rule := `[metadata]
creation_date = "2026/01/01"
[rule]
author = ["eqlstream"]
description = "test"
name = "Unscoped"
risk_score = 21
rule_id = "00000000-0000-0000-0000-000000000001"
severity = "low"
type = "eql"
language = "eql"
query = '''
sequence by process.entity_id [process where process.name in ("a*")] [process where process.name == "b"]
'''
`
	if err := os.WriteFile(filepath.Join(dir, "w.toml"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cmdCheck([]string{dir}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
	}
	for _, want := range []string{
		"      1  `*` in an in list is a literal character, not a wildcard\n",
		"      1  sequence without maxspan\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "…") {
		t.Errorf("a warning class is cut:\n%s", out.String())
	}
}

// An ad-hoc --query sequence without maxspan has no hidden time window (the
// EQL search API puts none on it); in a rule file the window is the rule's
// lookback (Kibana's default now-6m without `from`).
func TestAdHocSequenceHasNoTimeBound(t *testing.T) {
	events := []byte(`{"@timestamp":"2026-01-01T00:00:00Z","event":{"category":["process"]},"process":{"name":"a"}}
{"@timestamp":"2026-01-01T00:10:00Z","event":{"category":["process"]},"process":{"name":"b"}}
`)
	q := `sequence [process where process.name == "a"] [process where process.name == "b"]`
	r := eval(t, events, "--quiet", "--query", q)
	if r.code != exitOK || len(alertNames(t, r.stdout)) != 1 {
		t.Errorf("--query, events 10 minutes apart: exit %d, %d alerts, want 1\n%s", r.code, len(alertNames(t, r.stdout)), r.stderr)
	}
	dir := t.TempDir()
	rule := `[metadata]
creation_date = "2026/01/01"
[rule]
author = ["eqlstream"]
description = "test"
name = "Ten minutes"
risk_score = 21
rule_id = "00000000-0000-0000-0000-000000000002"
severity = "low"
type = "eql"
language = "eql"
query = '''
` + q + `
'''
`
	if err := os.WriteFile(filepath.Join(dir, "r.toml"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	r = eval(t, events, "--quiet", "--rules", dir)
	if r.code != exitOK || len(alertNames(t, r.stdout)) != 0 {
		t.Errorf("rule without from, events 10 minutes apart: exit %d, %d alerts, want 0 (6m lookback)", r.code, len(alertNames(t, r.stdout)))
	}
	rule = strings.Replace(rule, "type = \"eql\"", "type = \"eql\"\nfrom = \"now-15m\"", 1)
	if err := os.WriteFile(filepath.Join(dir, "r.toml"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	r = eval(t, events, "--quiet", "--rules", dir)
	if r.code != exitOK || len(alertNames(t, r.stdout)) != 1 {
		t.Errorf("rule with from = now-15m: exit %d, %d alerts, want 1: %s", r.code, len(alertNames(t, r.stdout)), r.stderr)
	}
}

// run, produce and acls: --help exits 0; enumerations and environment
// values are validated with the allowed values or form in the message.
func TestRunProduceACLsCLIHygiene(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cmdRun([]string{"--help"}, &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "usage: processor run") {
		t.Errorf("run --help: exit %d stdout %q", code, out.String())
	}
	out.Reset()
	if code := cmdACLs([]string{"-h"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "usage") {
		t.Errorf("acls -h: exit %d stdout %q", code, out.String())
	}
	cases := []struct {
		args []string
		env  [2]string
		want string
	}{
		{[]string{"--embedded", "--log-level", "verbose"}, [2]string{}, `unknown --log-level "verbose": debug, info, warn or error`},
		{[]string{"--embedded", "--log-format", "xml"}, [2]string{}, `unknown --log-format "xml": text or json`},
		{[]string{"--embedded"}, [2]string{"EQLSTREAM_COMMIT_INTERVAL", "abc"}, `EQLSTREAM_COMMIT_INTERVAL="abc": want a duration such as 100ms, 2s or 1m (for --commit-interval)`},
		{[]string{"--embedded"}, [2]string{"EQLSTREAM_MAX_BATCH_RECORDS", "lots"}, `EQLSTREAM_MAX_BATCH_RECORDS="lots": want a whole number (for --max-batch-records)`},
	}
	for _, c := range cases {
		if c.env[0] != "" {
			t.Setenv(c.env[0], c.env[1])
		}
		out.Reset()
		errb.Reset()
		if code := cmdRun(c.args, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("run %v %v: exit %d, stderr %q, want %q", c.args, c.env, code, errb.String(), c.want)
		}
		if c.env[0] != "" {
			os.Unsetenv(c.env[0])
		}
	}
}

// JSON logs give durations in seconds, text logs as Go durations.
func TestLogDurations(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger(&b, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("x", "took", 1500*time.Millisecond)
	if !strings.Contains(b.String(), `"took":1.5`) {
		t.Errorf("json: %s", b.String())
	}
	b.Reset()
	log, _ = newLogger(&b, "info", "text")
	log.Info("x", "took", 1500*time.Millisecond)
	if !strings.Contains(b.String(), `took=1.5s`) {
		t.Errorf("text: %s", b.String())
	}
}
