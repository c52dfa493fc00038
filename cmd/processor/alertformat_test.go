package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEvalAlertFormat: --alert-format elastic gives, for the same matches,
// the compact alerts' IDs as the alerts' own documents (event alerts and
// sequence shells) plus one building block per matched event of each
// sequence; the summary counts detections either way; a bad name is exit 2.
func TestEvalAlertFormat(t *testing.T) {
	compact := eval(t, nil, scenario)
	elastic := eval(t, nil, "--alert-format", "elastic", scenario)
	if compact.code != 0 || elastic.code != 0 {
		t.Fatalf("exit %d / %d: %s %s", compact.code, elastic.code, compact.stderr, elastic.stderr)
	}
	summary := func(s string) string { return s[:strings.Index(s, " in ")] }
	if summary(compact.stderr) != summary(elastic.stderr) {
		t.Errorf("summaries differ:\n%s\n%s", compact.stderr, elastic.stderr)
	}
	type doc struct {
		UUID  string `json:"kibana.alert.uuid"`
		Group string `json:"kibana.alert.group.id"`
		Depth int    `json:"kibana.alert.depth"`
		Kind  string `json:"event.kind"`
		Evs   []any  `json:"events"`
	}
	parse := func(out string) []doc {
		var ds []doc
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var d doc
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatalf("%v: %s", err, l)
			}
			ds = append(ds, d)
		}
		return ds
	}
	wantMembers := map[string]int{}
	for _, d := range parse(compact.stdout) {
		if len(d.Evs) > 1 {
			wantMembers[d.UUID] = len(d.Evs)
		} else {
			wantMembers[d.UUID] = 0
		}
	}
	gotMembers := map[string]int{}
	for _, d := range parse(elastic.stdout) {
		if d.Kind != "signal" {
			t.Errorf("%s: event.kind %q", d.UUID, d.Kind)
		}
		switch {
		case d.Group != "" && d.Depth == 1:
			gotMembers[d.Group]++
		default:
			if _, ok := gotMembers[d.UUID]; !ok {
				gotMembers[d.UUID] = 0
			}
		}
	}
	if len(gotMembers) != len(wantMembers) {
		t.Errorf("elastic alerts %v, compact %v", gotMembers, wantMembers)
	}
	for id, n := range wantMembers {
		if got, ok := gotMembers[id]; !ok || got != n {
			t.Errorf("alert %s: %d building blocks (present %v), want %d", id, got, ok, n)
		}
	}
	if r := eval(t, nil, "--alert-format", "kibana", scenario); r.code != exitUsage || !strings.Contains(r.stderr, "--alert-format") {
		t.Errorf("--alert-format kibana: exit %d, %s", r.code, r.stderr)
	}
}
