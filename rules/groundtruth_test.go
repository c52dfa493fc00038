package rules

// Ground truth from the generator, independent of the engine: internal/gen
// records every attack chain it injects (Injections: the rule it targets,
// the host, and the process.entity_id of each matching event in stage
// order) and every look-alike (documented false positives and near misses,
// for which no alert is expected). A correct engine raises exactly one
// alert per injected chain, from the targeted rule, over exactly those
// events, and nothing else. The expectation is the generator's, not the
// engine's output, so a detection bug that the exactly-once checks (which
// compare the engine with itself) cannot see fails here.

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
)

// ruleOfKind maps the generator's chain kinds to the built-in rules' names.
var ruleOfKind = map[string]string{
	gen.KindAPTShell:         "Suspicious APT Package Manager Execution",
	gen.KindAPTNetcon:        "Suspicious APT Package Manager Network Connection",
	gen.KindDPKGUnusual:      "Unusual DPKG Execution",
	gen.KindChmodPersistence: "Executable Bit Set for Potential Persistence Script",
}

// truthKey identifies one alert: rule, host and matched entity IDs in order.
func truthKey(rule, host string, entities []string) string {
	return rule + " | " + host + " | " + strings.Join(entities, " ")
}

func TestAlertsEqualGeneratorGroundTruth(t *testing.T) {
	if len(ruleOfKind) != len(gen.Kinds()) {
		t.Fatalf("generator kinds %v, mapped %d", gen.Kinds(), len(ruleOfKind))
	}
	set := builtinSet(t)
	events := 40_000
	if raceEnabled {
		events = 10_000 // the same code paths; -race is ~20x slower
	}
	for _, seed := range []int64{5, 7, 11, 23} {
		for _, disorder := range []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond} {
			t.Run(fmt.Sprintf("seed=%d/disorder=%s", seed, disorder), func(t *testing.T) {
				g, err := gen.New(gen.Config{Seed: seed, Events: events, Hosts: 40, AttackRate: 0.03,
					LookalikeRate: 0.05, Disorder: disorder})
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if _, err := g.WriteNDJSON(&buf); err != nil {
					t.Fatal(err)
				}
				want := map[string]int{}
				perKind := map[string]int{}
				lookalikes := 0
				for _, inj := range g.Injections() {
					if inj.Lookalike {
						lookalikes++
						continue
					}
					want[truthKey(ruleOfKind[inj.Kind], inj.HostID, inj.EntityIDs)]++
					perKind[inj.Kind]++
				}
				for _, k := range gen.Kinds() {
					if perKind[k] == 0 {
						t.Fatalf("no %s chain injected: the test would prove nothing for that rule", k)
					}
				}
				if lookalikes == 0 {
					t.Fatal("no look-alikes injected")
				}
				got := map[string]int{}
				for _, a := range evalLines(t, set, bytes.Split(buf.Bytes(), []byte("\n"))) {
					host, _ := lookup(a.doc, "host.id")
					hostID, _ := host.(string)
					var entities []string
					evs, _ := a.doc["events"].([]any)
					for _, e := range evs {
						em, _ := e.(map[string]any)
						id, _ := lookup(em, "process.entity_id")
						s, _ := id.(string)
						entities = append(entities, s)
					}
					got[truthKey(a.rule, hostID, entities)]++
				}
				var missing, extra []string
				for k, n := range want {
					for i := got[k]; i < n; i++ {
						missing = append(missing, k)
					}
				}
				for k, n := range got {
					for i := want[k]; i < n; i++ {
						extra = append(extra, k)
					}
				}
				sort.Strings(missing)
				sort.Strings(extra)
				if len(missing)+len(extra) > 0 {
					t.Fatalf("alerts differ from the generator's %d injected chains (%d look-alikes):\nmissing %d: %s\nunexpected %d: %s",
						len(g.Injections())-lookalikes, lookalikes, len(missing), strings.Join(head(missing, 10), "\n  "),
						len(extra), strings.Join(head(extra, 10), "\n  "))
				}
				t.Logf("%d chains (%v), %d look-alikes: alerts equal the ground truth", len(g.Injections())-lookalikes, perKind, lookalikes)
			})
		}
	}
}

func head(xs []string, n int) []string {
	if len(xs) > n {
		return append(xs[:n:n], fmt.Sprintf("... %d more", len(xs)-n))
	}
	return xs
}
