package engine

import (
	"testing"

	"github.com/eqlstream/eqlstream/rules/eql"
)

// neverExcludes are exclusions of every entry kind that no benchmark event
// satisfies; the nested one passes its flattened pre-check on no event.
var neverExcludes = []Exclusion{
	{List: "l1", Item: "match", Entries: []Entry{{Kind: EntryMatch, Field: "process.name", Values: []string{"no-such-process"}}}},
	{List: "l1", Item: "any", Entries: []Entry{{Kind: EntryMatchAny, Field: "user.name", Values: []string{"nobody-1", "nobody-2", "10.0.0.0/8"}}}},
	{List: "l1", Item: "cidr", Entries: []Entry{{Kind: EntryMatchAny, Field: "source.ip", Values: []string{"192.0.2.0/24", "2001:db8::/32"}}}},
	{List: "l1", Item: "cidr2", Entries: []Entry{{Kind: EntryMatch, Field: "destination.ip", Values: []string{"198.51.100.0/24"}}}},
	{List: "l2", Item: "wild", Entries: []Entry{{Kind: EntryWildcard, Field: "process.executable", Values: []string{"/no/such/*/dir?"}}}},
	{List: "l2", Item: "wild-escaped", Entries: []Entry{{Kind: EntryWildcard, Field: "process.executable", Values: []string{`C:\\no\\*`}}}},
	{List: "l2", Item: "and", Entries: []Entry{
		{Kind: EntryExists, Field: "process.name"},
		{Kind: EntryMatch, Field: "process.pid", Values: []string{"-7"}},
		{Kind: EntryExists, Field: "no.such.field", Negate: true},
	}},
	{List: "l3", Item: "nested", Entries: []Entry{{Kind: EntryNested, Field: "process.Ext.code_signature", Entries: []Entry{
		{Kind: EntryMatch, Field: "subject_name", Values: []string{"nobody"}},
	}}}},
}

// TestZeroAllocExclusionCheck: checking a rule's exclusions for a candidate
// event that none of them excludes allocates nothing — the same events
// cost the same allocations with and without the exclusions — and changes
// no match.
func TestZeroAllocExclusionCheck(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	evs := loadBenchEvents(t)
	plain := linuxDefs(t)
	tuned := make([]RuleDef, len(plain))
	for i, d := range plain {
		d.Exclusions = neverExcludes
		tuned[i] = d
	}
	measure := func(defs []RuleDef) (float64, uint64, uint64) {
		e := compileDefs(t, defs, Options{}).NewEngine()
		var matches uint64
		for i, raw := range evs { // warm up
			ms, _, err := e.Process(raw, uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			matches += uint64(len(ms))
		}
		i := 0
		allocs := testing.AllocsPerRun(len(evs), func() {
			if _, _, err := e.Process(evs[i%len(evs)], uint64(len(evs)+i)); err != nil {
				t.Fatal(err)
			}
			i++
		})
		return allocs, matches, e.Stats().Excluded
	}
	a0, m0, _ := measure(plain)
	a1, m1, x1 := measure(tuned)
	if m0 != m1 || x1 != 0 {
		t.Fatalf("matches %d without and %d with exclusions that exclude nothing; %d excluded", m0, m1, x1)
	}
	if m0 == 0 {
		t.Fatal("the benchmark rules match nothing: the exclusion check was never reached")
	}
	if a1 != a0 {
		t.Errorf("%.4f allocations per event with exclusions, %.4f without", a1, a0)
	}
}

func TestESWildcard(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"/opt/*/agent?", "/opt/a/b/agent1", true},
		{"/opt/*/agent?", "/opt/a/agent", false},
		{`C:\\Windows\\*.exe`, `C:\Windows\system32\cmd.exe`, true},
		{`C:\\Windows\\*.exe`, `C:\Windows\cmd.dll`, false},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{`a\?`, "a?", true},
		{"ABC*", "abcd", false}, // no case_insensitive in Kibana's clause
		{"é?", "éü", true},      // ? is one character, not one byte
	}
	for _, c := range cases {
		m, err := compileESWildcard(c.pat)
		if err != nil {
			t.Fatal(err)
		}
		if got := m([]byte(c.s)); got != c.want {
			t.Errorf("wildcard %q on %q = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}

// TestExclusionsInProgramHash: state written under other exceptions is not
// this program's (different events took part), so the hash differs.
func TestExclusionsInProgramHash(t *testing.T) {
	def := func(xs []Exclusion) []RuleDef {
		return []RuleDef{{ID: "r", Source: &eql.Source{Name: "r", Text: "process where true"}, Exclusions: xs}}
	}
	h0 := compileDefs(t, def(nil), Options{}).Hash()
	h1 := compileDefs(t, def(neverExcludes[:1]), Options{}).Hash()
	h2 := compileDefs(t, def(neverExcludes[:2]), Options{}).Hash()
	if h0 == h1 || h1 == h2 || h0 == h2 {
		t.Fatalf("hashes %x %x %x, want all different", h0, h1, h2)
	}
	if h := compileDefs(t, def(neverExcludes[:1]), Options{}).Hash(); h != h1 {
		t.Fatalf("same exclusions, hash %x then %x", h1, h)
	}
}
