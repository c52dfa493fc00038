package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules/engine"
)

const suppressedRule = `[rule]
rule_id = "s-1"
name = "Suppressed"
description = "d"
type = "eql"
language = "eql"
severity = "low"
risk_score = 21
query = "process where true"

[rule.alert_suppression]
group_by = ["host.name", "user.name"]
missing_fields_strategy = "doNotSuppress"

[rule.alert_suppression.duration]
value = 5
unit = "m"
`

func TestAlertSuppressionParsedAndCompiled(t *testing.T) {
	r, err := ParseTOML("s.toml", []byte(suppressedRule))
	if err != nil {
		t.Fatal(err)
	}
	want := &AlertSuppression{GroupBy: []string{"host.name", "user.name"}, Duration: 5 * time.Minute, MissingFieldsStrategy: "doNotSuppress"}
	if r.AlertSuppression == nil || r.AlertSuppression.String() != want.String() {
		t.Fatalf("AlertSuppression = %v, want %v", r.AlertSuppression, want)
	}
	if r.AlertSuppression.Interval != 5*time.Minute {
		t.Fatalf("Interval = %v, want the default 5m", r.AlertSuppression.Interval)
	}
	s, err := Compile([]*Rule{r}, engine.Options{})
	if err != nil || len(s.Program.Rules()) != 1 {
		t.Fatalf("Compile: %v, %d rules compiled; want the rule", err, len(s.Program.Rules()))
	}
	// the rule's interval is the window of per-execution suppression
	src := strings.Replace(suppressedRule, "query =", "interval = \"10m\"\nquery =", 1)
	if r, err = ParseTOML("s.toml", []byte(src)); err != nil || r.AlertSuppression.Interval != 10*time.Minute {
		t.Fatalf("interval 10m: %v, %+v", err, r)
	}
	src = strings.Replace(suppressedRule, "query =", "interval = \"10d\"\nquery =", 1)
	if _, err = ParseTOML("s.toml", []byte(src)); err == nil || !strings.Contains(err.Error(), "rule.interval: want <number><unit>") {
		t.Fatalf("interval 10d: %v", err)
	}
}

func TestAlertSuppressionErrors(t *testing.T) {
	cases := []struct{ table, want string }{
		{"group_by = []", "s.toml:12:1: rule.alert_suppression.group_by: want 1 to 3 field names, found 0"},
		{`group_by = ["a", "b", "c", "d"]`, "rule.alert_suppression.group_by: want 1 to 3 field names, found 4"},
		{"group_by = [\"a\"]\nmissing_fields_strategy = \"drop\"", `rule.alert_suppression.missing_fields_strategy: want "suppress" or "doNotSuppress", found "drop"`},
		{"group_by = [\"a\"]\nduration = {value = 5, unit = \"d\"}", `rule.alert_suppression.duration.unit: want "s", "m" or "h", found "d"`},
		{"group_by = [\"a\"]\nduration = {value = 0, unit = \"s\"}", "rule.alert_suppression.duration.value: want a positive integer, found 0"},
	}
	for _, c := range cases {
		src := suppressedRule[:strings.Index(suppressedRule, "[rule.alert_suppression]")] + "[rule.alert_suppression]\n" + c.table + "\n"
		_, err := ParseTOML("s.toml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.table, err, c.want)
		}
	}
}
