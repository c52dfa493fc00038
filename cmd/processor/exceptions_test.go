package main

import (
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
