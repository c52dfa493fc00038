package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestRulesPushRefusesBrokenRule: push compiles like check and refuses a
// rule that does not compile with check's file:line:col and caret, exit 3,
// before connecting to any broker (none listens on the address given).
func TestRulesPushRefusesBrokenRule(t *testing.T) {
	var out, errb bytes.Buffer
	code := cmdRules([]string{"push", "--brokers", "127.0.0.1:1", "--topic", "rules", "testdata/broken"}, &out, &errb)
	if code != exitRules {
		t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitRules, out.String(), errb.String())
	}
	want := "testdata/broken/bad_cidr.toml:18:47: argument 3 of cidrMatch is not a CIDR block or IP address: \"172.16.0.0/33\"\n" +
		"      not cidrmatch(destination.ip, \"10.0.0.0/8\", \"172.16.0.0/33\")\n" +
		"                                                  ^\n"
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "nothing published") {
		t.Errorf("stdout:\n%s\nwant it to contain:\n%s", out.String(), want)
	}
}

// TestRunRuleSources: --rules and --rules-topic together are refused with
// a clear message (exit 2), as are --exceptions files with a rules topic.
func TestRunRuleSources(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rules", "../../rules/builtin", "--rules-topic", "r"}, "use --rules (files) or --rules-topic, not both"},
		{[]string{"--exceptions", "x.ndjson", "--rules-topic", "r"}, "publish the lists to the topic"},
		{[]string{"--embedded", "--rules-topic", "r"}, "--rules-topic needs a Kafka cluster"},
	} {
		var out, errb bytes.Buffer
		os.Unsetenv("EQLSTREAM_RULES_TOPIC")
		code := cmdRun(append([]string{"--brokers", "127.0.0.1:1", "--instance-id", "t"}, c.args...), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("run %v: exit %d, stderr %q; want exit %d and %q", c.args, code, errb.String(), exitUsage, c.want)
		}
	}
}

// TestRulesSubcommandUsage: push without paths, delete without IDs, and
// any rules subcommand without a topic are usage errors.
func TestRulesSubcommandUsage(t *testing.T) {
	for _, args := range [][]string{
		{"push", "--brokers", "b:1", "--topic", "t"},
		{"delete", "--brokers", "b:1", "--topic", "t"},
		{"list", "--brokers", "b:1"},
	} {
		var out, errb bytes.Buffer
		os.Unsetenv("EQLSTREAM_RULES_TOPIC")
		if code := cmdRules(args, &out, &errb); code != exitUsage {
			t.Errorf("rules %v: exit %d, want %d (stderr %q)", args, code, exitUsage, errb.String())
		}
	}
}
