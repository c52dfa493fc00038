package rules

import (
	"errors"
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/exceptions"
)

const tunedRule = `[metadata]
creation_date = "2026/11/01"

[rule]
rule_id = "tuned-1"
name = "Tuned network rule"
description = "d"
type = "eql"
language = "eql"
severity = "low"
risk_score = 21
query = '''
network where true
'''

[[rule.exceptions_list]]
id = "c0c0c0c0-7a2e-11f1-9c1a-5b4e2f0d1a11"
list_id = "global-allow"
namespace_type = "agnostic"
type = "detection"
`

const plainRule = `[rule]
rule_id = "plain-1"
name = "Plain network rule"
description = "d"
type = "eql"
language = "eql"
severity = "low"
risk_score = 21
query = "network where true"
`

func sampleLists(t *testing.T) *exceptions.Set {
	t.Helper()
	s, err := exceptions.Load("exceptions/testdata/tuning_export.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func parseRules(t *testing.T) []*Rule {
	t.Helper()
	a, err := ParseTOML("tuned.toml", []byte(tunedRule))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseTOML("plain.toml", []byte(plainRule))
	if err != nil {
		t.Fatal(err)
	}
	return []*Rule{a, b}
}

func TestExceptionsListParsed(t *testing.T) {
	r := parseRules(t)[0]
	want := []ExceptionRef{{ID: "c0c0c0c0-7a2e-11f1-9c1a-5b4e2f0d1a11", ListID: "global-allow", Type: "detection", NamespaceType: "agnostic"}}
	if len(r.Exceptions) != 1 || r.Exceptions[0] != want[0] {
		t.Fatalf("Exceptions = %+v, want %+v", r.Exceptions, want)
	}
	if _, ok := r.Metadata["exceptions_list"]; ok {
		t.Fatal("exceptions_list also left in Metadata")
	}
}

// matchCounts runs the network events through the compiled set: an event to
// the scanner target (10.0.0.1) and one elsewhere.
func matchCounts(t *testing.T, s *RuleSet) (map[string]int, *engine.Engine) {
	t.Helper()
	e := s.Program.NewEngine()
	n := map[string]int{}
	for i, raw := range []string{
		`{"@timestamp":"2026-07-01T10:00:02Z","event":{"category":"network"},"destination":{"ip":"10.0.0.1"}}`,
		`{"@timestamp":"2026-07-01T10:00:03Z","event":{"category":"network"},"destination":{"ip":"8.8.8.8"}}`,
	} {
		ms, _, err := e.Process([]byte(raw), uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			n[m.Rule.ID]++
		}
	}
	return n, e
}

func TestAttachExceptionsFromRuleAndFlag(t *testing.T) {
	rs := parseRules(t)
	if err := AttachExceptions(rs, sampleLists(t), map[string][]string{"plain-1": {"global-allow"}}); err != nil {
		t.Fatal(err)
	}
	s, err := Compile(rs, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, e := matchCounts(t, s)
	if n["tuned-1"] != 1 || n["plain-1"] != 1 {
		t.Fatalf("matches %v, want one per rule (the 10.0.0.1 event excluded from both)", n)
	}
	got := e.ExcludedCounts()
	if len(got) != 2 || got[0] != (engine.ExclusionCount{RuleID: "tuned-1", List: "global-allow", Events: 1}) ||
		got[1] != (engine.ExclusionCount{RuleID: "plain-1", List: "global-allow", Events: 1}) {
		t.Fatalf("ExcludedCounts = %+v", got)
	}
}

func TestAttachExceptionsErrors(t *testing.T) {
	// the referenced list is not loaded
	rs := parseRules(t)
	err := AttachExceptions(rs, nil, nil)
	if !errors.Is(err, ErrMissingList) || !strings.Contains(err.Error(), `rule tuned-1 (tuned.toml): exception list "global-allow" (agnostic)`) {
		t.Fatalf("missing list: %v", err)
	}
	// namespace must agree with the reference
	rs = parseRules(t)
	rs[0].Exceptions[0].NamespaceType = "single"
	if err := AttachExceptions(rs, sampleLists(t), nil); !errors.Is(err, ErrMissingList) {
		t.Fatalf("wrong namespace: %v", err)
	}
	// --exceptions-for names a list that is not loaded, or an unknown rule
	rs = parseRules(t)
	err = AttachExceptions(rs, sampleLists(t), map[string][]string{"plain-1": {"nope"}, "ghost": {"global-allow"}})
	if err == nil || !strings.Contains(err.Error(), `rule plain-1 (plain.toml): exception list "nope"`) ||
		!strings.Contains(err.Error(), "--exceptions-for ghost: no rule with that rule_id") {
		t.Fatalf("bad --exceptions-for: %v", err)
	}
}

// TestCompileRefusesUnattachedExceptions: a rule naming exception lists is
// never run without them, even by a caller that forgot AttachExceptions.
func TestCompileRefusesUnattachedExceptions(t *testing.T) {
	s, err := Compile(parseRules(t), engine.Options{})
	if !errors.Is(err, ErrMissingList) || len(s.Failed) != 1 {
		t.Fatalf("err %v, failed %v", err, s.Failed)
	}
	if len(s.Program.Rules()) != 1 || s.Program.Rules()[0].ID != "plain-1" {
		t.Fatalf("compiled rules: %v", s.Program.Rules())
	}
}
