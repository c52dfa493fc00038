package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalRulesAt: switching to the same rules at any line changes no alert;
// switching to a set without a rule stops that rule's alerts from there on;
// a change after the end of the input is a usage error.
func TestEvalRulesAt(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.ndjson")
	var out, errb bytes.Buffer
	if code := cmdGen([]string{"--events", "20000", "--hosts", "50", "--output", events}, &out, &errb); code != exitOK {
		t.Fatalf("gen: %d %s", code, errb.String())
	}
	eval := func(args ...string) (string, int) {
		var o, e bytes.Buffer
		code := cmdEval(append(append([]string{"--quiet"}, args...), events), nil, &o, &e)
		return o.String(), code
	}
	base, _ := eval("--rules", "../../rules/builtin")
	if strings.Count(base, "\n") < 5 {
		t.Fatalf("only %d alerts: nothing to compare", strings.Count(base, "\n"))
	}
	if same, _ := eval("--rules", "../../rules/builtin", "--rules-at", "10000=../../rules/builtin"); same != base {
		t.Fatal("switching to the same rules changed the alerts")
	}
	fewer := filepath.Join(dir, "fewer")
	if err := os.Mkdir(fewer, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"apt_package_manager_execution.toml", "apt_package_manager_network_connection.toml", "persistence_script_executable_bit.toml"} {
		b, err := os.ReadFile(filepath.Join("../../rules/builtin", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fewer, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	at0, _ := eval("--rules", "../../rules/builtin", "--rules-at", "0="+fewer)
	only, _ := eval("--rules", fewer)
	if at0 != only || strings.Contains(at0, "Unusual DPKG Execution") {
		t.Fatal("a change at line 0 is not the same as running the new rules")
	}
	mid, _ := eval("--rules", "../../rules/builtin", "--rules-at", "10000="+fewer)
	if !strings.Contains(base, "Unusual DPKG Execution") || strings.Count(mid, "\n") >= strings.Count(base, "\n") || strings.Count(mid, "\n") <= strings.Count(at0, "\n") {
		t.Fatalf("deleting the DPKG rule mid-stream: %d alerts, want fewer than %d and more than %d", strings.Count(mid, "\n"), strings.Count(base, "\n"), strings.Count(at0, "\n"))
	}
	if _, code := eval("--rules-at", "9999999=../../rules/builtin"); code != exitUsage {
		t.Fatalf("a change after the end: exit %d, want %d", code, exitUsage)
	}
}
