package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestCheckLintGolden: processor check with the built-in ECS types and a
// --mapping reports each planted mistake of testdata/lint/typos.toml and
// text.toml once, in the expected class, and nothing for clean.toml (fields
// from the mapping, the rule's required_fields, an endpoint Ext field, a
// Windows share path with a literal *, a CIDR against an ip field, ?x == ?y
// on fields the mapping lacks). The golden file was reviewed against that
// list by hand.
func TestCheckLintGolden(t *testing.T) {
	want, err := os.ReadFile("testdata/lint/check.golden")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := cmdCheck([]string{"--mapping", "testdata/lint/mapping.json", "testdata/lint"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if out.String() != string(want) {
		t.Errorf("output differs from testdata/lint/check.golden:\n%s", out.String())
	}
	for _, class := range []string{"unknown field process.nam; did you mean process.name?",
		"unknown field proces.name; did you mean process.name?", "unknown event category proces; did you mean process?",
		"literal the field's type cannot read, for source.ip (ip)", "literal the field's type cannot read, for process.pid (long)",
		"pattern on a non-string field", "optional ? on a field every event has (?@timestamp)",
		"equality on a text field can never be true (== on message)", "`*` in an in list is a literal character"} {
		n := 0
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "warning: ") && strings.Contains(line, class) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("want one %q", class)
		}
	}
	if strings.Contains(out.String(), "clean.toml") {
		t.Error("a warning for clean.toml")
	}

	out.Reset()
	if code := cmdCheck([]string{"--strict", "--mapping", "testdata/lint/mapping.json", "testdata/lint"}, &out, &errb); code != exitRules {
		t.Errorf("--strict with warnings: exit %d, want %d", code, exitRules)
	}
	if code := cmdCheck([]string{"--strict", "--mapping", "testdata/lint/mapping.json", "testdata/lint/clean.toml"}, &out, &errb); code != exitOK {
		t.Errorf("--strict without warnings: exit %d, want 0", code)
	}
	out.Reset()
	if code := cmdCheck([]string{"--untyped", "testdata/lint/typos.toml"}, &out, &errb); code != exitOK {
		t.Fatalf("--untyped: exit %d", code)
	}
	if strings.Contains(out.String(), "unknown field") || !strings.Contains(out.String(), "1 warnings") {
		t.Errorf("--untyped must leave only the wildcard warning:\n%s", out.String())
	}
	if code := cmdCheck([]string{"--mapping", "testdata/lint/nope.json", "testdata/lint"}, &out, &errb); code != exitUsage {
		t.Errorf("a missing mapping file: exit %d, want %d", code, exitUsage)
	}
}
