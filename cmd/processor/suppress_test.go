package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	sudoRule   = "../../rules/suppress/testdata/sudo_suppressed.toml"
	sudoTuning = "../../rules/suppress/testdata/sudo_tuning.ndjson"
	sudoRuleID = "eqlstream-sudo-suppressed"
)

func sudoEvent(sec int, host, cmd string) string {
	return fmt.Sprintf(`{"@timestamp":"2026-07-01T10:00:%02dZ","event":{"category":["process"],"type":["start"]},"host":{"id":%q,"os":{"type":"linux"}},"user":{"name":"root"},"process":{"name":"sudo","command_line":%q}}`, sec, host, cmd)
}

// TestEvalSuppression checks eval with the sample suppression rule and its
// exception list; the expected alerts follow from the rule (group by
// host.id and user.name, 5 s windows, "sudo apt *" excluded) by hand.
func TestEvalSuppression(t *testing.T) {
	in := strings.Join([]string{
		sudoEvent(0, "A", "sudo tail -f /var/log/auth.log"), // A opens [0s, 5s): produced
		sudoEvent(1, "A", "sudo apt update"),                // excluded by sudo-tuning: takes no part
		sudoEvent(2, "A", "sudo vim /etc/hosts"),            // suppressed in A's window
		sudoEvent(3, "B", "sudo less /var/log/syslog"),      // B opens [3s, 8s): produced
		sudoEvent(6, "A", "sudo less /var/log/syslog"),      // after A's end: A's summary (1 suppressed, 0s..2s), then A opens [6s, 11s)
	}, "\n") + "\n"
	r := eval(t, []byte(in), "--rules", sudoRule, "--exceptions", sudoTuning)
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	type doc struct {
		TS    string `json:"@timestamp"`
		Docs  *int   `json:"kibana.alert.suppression.docs_count"`
		Start string `json:"kibana.alert.suppression.start"`
		End   string `json:"kibana.alert.suppression.end"`
		Host  struct {
			ID string `json:"id"`
		} `json:"host"`
		EQL struct {
			Kind string `json:"kind"`
		} `json:"eqlstream"`
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var d doc
		if err := json.Unmarshal([]byte(l), &d); err != nil || d.Docs == nil {
			t.Fatalf("alert without suppression fields (%v): %s", err, l)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s..%s %d", d.EQL.Kind, d.Host.ID, d.TS[17:19], d.Start[17:19], d.End[17:19], *d.Docs))
	}
	want := []string{"event A 00 00..00 0", "event B 03 03..03 0", "suppression_summary A 02 00..02 1", "event A 06 06..06 0"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range []string{
		"excluded: 1 events from rule " + sudoRuleID + " by exception list sudo-tuning",
		"suppressed: 1 alerts of rule " + sudoRuleID + ", 1 summaries, 0 windows open",
	} {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("summary lacks %q:\n%s", w, r.stderr)
		}
	}
	// As a running processor: the end of the input leaves the windows open.
	r = eval(t, []byte(in), "--rules", sudoRule, "--exceptions", sudoTuning, "--final-flush=false")
	if !strings.Contains(r.stderr, "suppressed: 1 alerts of rule "+sudoRuleID+", 1 summaries, 2 windows open") {
		t.Fatalf("--final-flush=false:\n%s", r.stderr)
	}
}

// TestRunRefusesUnscopedSuppression: a suppression rule whose group_by
// lacks host.id cannot be exact in a host-partitioned stream; run refuses
// it before connecting, naming the rule.
func TestRunRefusesUnscopedSuppression(t *testing.T) {
	src, err := os.ReadFile(sudoRule)
	if err != nil {
		t.Fatal(err)
	}
	rule := filepath.Join(t.TempDir(), "unscoped.toml")
	bad := strings.Replace(string(src), `group_by = ["host.id", "user.name"]`, `group_by = ["user.name"]`, 1)
	if err := os.WriteFile(rule, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code := cmdRun([]string{"--brokers", "127.0.0.1:1", "--rules", rule, "--exceptions", sudoTuning}, &out, &errb)
	want := "rule " + sudoRuleID + " (Sudo Execution (suppressed per host and user), " + rule + "): alert_suppression.group_by [user.name] does not include host.id"
	if code != exitRules || !strings.Contains(errb.String(), want) {
		t.Fatalf("exit %d, want %d; stderr:\n%s\nwant %q", code, exitRules, errb.String(), want)
	}
	// eval takes it: offline the whole input is one stream
	if r := eval(t, []byte(sudoEvent(0, "A", "sudo ls")+"\n"), "--rules", rule, "--exceptions", sudoTuning); r.code != exitOK {
		t.Fatalf("eval: exit %d\n%s", r.code, r.stderr)
	}
}

// TestCheckWarnsUnscopedSuppression: check names a suppression rule that
// run would refuse.
func TestCheckWarnsUnscopedSuppression(t *testing.T) {
	dir := t.TempDir()
	rule := filepath.Join(dir, "unscoped.toml")
	if err := os.WriteFile(rule, []byte(`[rule]
rule_id = "u-1"
name = "Unscoped"
description = "d"
type = "eql"
language = "eql"
severity = "low"
risk_score = 21
query = "process where true"

[rule.alert_suppression]
group_by = ["user.name"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code := cmdCheck([]string{rule}, &out, &errb)
	for _, w := range []string{
		"warning: rule u-1 (Unscoped, " + rule + "): alert_suppression.group_by [user.name] does not include host.id",
		"1 compiled (0 sequences/samples), 0 failed, 1 warnings",
		"1  alert suppression not scoped to host.id (processor run refuses the rule)",
	} {
		if code != exitOK || !strings.Contains(out.String(), w) {
			t.Fatalf("exit %d; output lacks %q:\n%s%s", code, w, out.String(), errb.String())
		}
	}
}

// TestCheckWithExceptions: check takes --exceptions, so a rule that names
// an exception list compiles with it (and fails without it, as in run).
func TestCheckWithExceptions(t *testing.T) {
	var out, errb strings.Builder
	if code := cmdCheck([]string{sudoRule}, &out, &errb); code != exitRules || !strings.Contains(out.String(), `exception list "sudo-tuning": exception list not loaded`) {
		t.Fatalf("without --exceptions: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := cmdCheck([]string{"--exceptions", sudoTuning, sudoRule}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "1 compiled (0 sequences/samples), 0 failed") {
		t.Fatalf("with --exceptions: exit %d\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := cmdCheck([]string{"--exceptions", sudoTuning, "--exceptions-for", "nope=sudo-tuning", sudoRule}, &out, &errb); code != exitRules || !strings.Contains(out.String(), "--exceptions-for nope: no rule with that rule_id was loaded") {
		t.Fatalf("--exceptions-for an unknown rule: exit %d\n%s", code, out.String())
	}
}
