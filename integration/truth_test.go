package integration

import (
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/internal/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Ground truth from the generator, independent of the engine and of
// processor eval: the chains internal/gen injected for the same settings
// as genArgs, keyed by rule, host and the process.entity_id of each matched
// event. A detection bug shared by the pipeline and eval (which the
// exactly-once comparisons cannot see) fails this.

var ruleIDOfKind = map[string]string{
	gen.KindAPTShell:         "7a756487-690f-4e73-922d-891a00202b9f",
	gen.KindAPTNetcon:        "007e138a-8a35-4afb-83ad-db3121eabf85",
	gen.KindDPKGUnusual:      "71e5ab27-ba4a-4851-8ef9-52296169170c",
	gen.KindChmodPersistence: "b0170349-ba6d-428a-9668-eb90b69b8de8",
}

// injectedChains returns the generator's attack chains for genArgs(seed,
// events) as a multiset of "rule | host | entity ids".
func injectedChains(t testing.TB, seed string, events int) map[string]int {
	t.Helper()
	s, err := strconv.ParseInt(seed, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// the same settings as genArgs and `processor gen`'s defaults
	g, err := gen.New(gen.Config{Seed: s, Events: events, Hosts: 60, AttackRate: 0.02, LookalikeRate: 0.03,
		Disorder: 500 * time.Millisecond, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for ok := true; ok; {
		buf, _, ok = g.Next(buf[:0])
	}
	out := map[string]int{}
	for _, inj := range g.Injections() {
		if !inj.Lookalike {
			out[testutil.ChainKey(ruleIDOfKind[inj.Kind], inj.HostID, inj.EntityIDs)]++
		}
	}
	return out
}

// alertChains keys alert records the same way.
func alertChains(t testing.TB, recs []*kgo.Record) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range recs {
		k, err := testutil.AlertChainKey(r.Value)
		if err != nil {
			t.Fatalf("alert record: %v", err)
		}
		out[k]++
	}
	return out
}

// checkGroundTruth asserts that the alerts are exactly the injected chains.
func checkGroundTruth(t testing.TB, want, got map[string]int) {
	t.Helper()
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
	total := 0
	for _, n := range want {
		total += n
	}
	if len(missing)+len(extra) > 0 {
		t.Errorf("alerts differ from the generator's %d injected chains: %d missing %v, %d unexpected %v",
			total, len(missing), head(missing, 5), len(extra), head(extra, 5))
		return
	}
	t.Logf("alerts equal the generator's %d injected chains (rule, host, matched entity ids)", total)
}

func head(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}
