package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleExceptions = "../../rules/exceptions/testdata/tuning_export.ndjson"

var networkEvents = []byte(`{"@timestamp":"2026-07-01T10:00:02Z","event":{"category":"network"},"host":{"id":"h1"},"destination":{"ip":"10.0.0.1"}}
{"@timestamp":"2026-07-01T10:00:03Z","event":{"category":"network"},"host":{"id":"h1"},"destination":{"ip":"8.8.8.8"}}
`)

func TestEvalExceptions(t *testing.T) {
	r := eval(t, networkEvents, "--query", "network where true")
	if r.code != exitOK || len(alertNames(t, r.stdout)) != 2 {
		t.Fatalf("without exceptions: exit %d, %d alerts\n%s", r.code, len(alertNames(t, r.stdout)), r.stderr)
	}
	r = eval(t, networkEvents, "--query", "network where true",
		"--exceptions", sampleExceptions, "--exceptions-for", "query=global-allow")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if n := len(alertNames(t, r.stdout)); n != 1 || !strings.Contains(r.stdout, "8.8.8.8") || strings.Contains(r.stdout, "10.0.0.1") {
		t.Fatalf("%d alerts, want one over the 8.8.8.8 event:\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stderr, "excluded: 1 events from rule query by exception list global-allow") {
		t.Fatalf("summary lacks the exclusion count:\n%s", r.stderr)
	}
}

func TestEvalExceptionsErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing list", []string{"--exceptions", sampleExceptions, "--exceptions-for", "query=nope"},
			`rule query (): exception list "nope" (any namespace): exception list not loaded`},
		{"malformed --exceptions-for", []string{"--exceptions-for", "query"}, `--exceptions-for "query": want RULE_ID=LIST_ID`},
		{"unknown rule", []string{"--exceptions", sampleExceptions, "--exceptions-for", "ghost=global-allow"},
			"--exceptions-for ghost: no rule with that rule_id was loaded"},
		{"unreadable file", []string{"--exceptions", "no-such.ndjson"}, "no-such.ndjson"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := eval(t, networkEvents, append([]string{"--query", "network where true"}, c.args...)...)
			if r.code != exitRules || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, want %d; stderr:\n%s\nwant it to contain %q", r.code, exitRules, r.stderr, c.want)
			}
		})
	}
}

func TestEvalExceptionsFromRuleFile(t *testing.T) {
	dir := t.TempDir()
	rule := filepath.Join(dir, "tuned.toml")
	if err := os.WriteFile(rule, []byte(`[rule]
rule_id = "tuned-1"
name = "Tuned"
description = "d"
type = "eql"
language = "eql"
severity = "low"
risk_score = 21
query = "network where true"
exceptions_list = [{id = "c0c0", list_id = "global-allow", namespace_type = "agnostic", type = "detection"}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := eval(t, networkEvents, "--rules", rule)
	if r.code != exitRules || !strings.Contains(r.stderr, `rule tuned-1 (`+rule+`): exception list "global-allow" (agnostic): exception list not loaded`) {
		t.Fatalf("without --exceptions: exit %d\n%s", r.code, r.stderr)
	}
	r = eval(t, networkEvents, "--rules", rule, "--exceptions", sampleExceptions)
	if r.code != exitOK || len(alertNames(t, r.stdout)) != 1 || !strings.Contains(r.stdout, "8.8.8.8") {
		t.Fatalf("with --exceptions: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.ndjson")
	if err := os.WriteFile(bad, []byte(`{"list_id":"global-allow","namespace_type":"agnostic","type":"detection"}
{"item_id":"x","list_id":"global-allow","namespace_type":"agnostic","entries":[{"field":"a","operator":"included","type":"regex","value":"x"}]}
{"oops"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r = eval(t, networkEvents, "--rules", rule, "--exceptions", bad)
	for _, want := range []string{bad + `:2: item x: entries[0]: field a: unknown entry type "regex"`, bad + ":3: invalid JSON"} {
		if r.code != exitRules || !strings.Contains(r.stderr, want) {
			t.Fatalf("bad list file: exit %d, want %d and %q in\n%s", r.code, exitRules, want, r.stderr)
		}
	}
}
