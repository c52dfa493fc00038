package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules/eql"
)

// run compiles one query and feeds events (JSON lines); it returns the matches
// as lists of event indexes (1-based), with 0 for a missing stage.
func run(t *testing.T, query string, opts Options, events ...string) [][]int {
	t.Helper()
	p, err := Compile([]RuleDef{{ID: "r", Source: &eql.Source{Text: query}}}, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	e := p.NewEngine()
	var out [][]int
	collect := func(ms []Match) {
		for _, m := range ms {
			var idx []int
			for _, r := range m.Refs {
				if r == MissingRef {
					idx = append(idx, 0)
				} else {
					idx = append(idx, int(r))
				}
			}
			out = append(out, idx)
		}
	}
	for i, ev := range events {
		ms, _, err := e.Process([]byte(ev), uint64(i+1))
		if err != nil {
			t.Fatalf("event %d: %v", i+1, err)
		}
		collect(ms)
	}
	collect(e.Flush())
	return out
}

// ev builds an event at second s with extra fields given as JSON members.
func ev(cat string, s float64, members ...string) string {
	ts := time.Unix(0, 0).UTC().Add(time.Duration(s * float64(time.Second))).Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"@timestamp":%q,"event":{"category":[%q]}%s}`, ts, cat, prefixComma(members))
}

func prefixComma(ms []string) string {
	if len(ms) == 0 {
		return ""
	}
	return "," + strings.Join(ms, ",")
}

func TestSmokeSequence(t *testing.T) {
	q := `sequence by host.id with maxspan=5s
	  [process where process.name == "sh"] by process.entity_id
	  [network where true] by process.parent.entity_id`
	got := run(t, q, Options{},
		ev("process", 1, `"host":{"id":"h1"}`, `"process":{"name":"sh","entity_id":"A"}`),
		ev("network", 2, `"host":{"id":"h1"}`, `"process":{"parent":{"entity_id":"A"}}`),
		ev("network", 3, `"host":{"id":"h1"}`, `"process":{"parent":{"entity_id":"A"}}`),
	)
	if fmt.Sprint(got) != "[[1 2]]" {
		t.Fatalf("got %v", got)
	}
}
