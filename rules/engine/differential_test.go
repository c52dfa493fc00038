package engine

// Differential tests: the same input through two evaluation paths must give
// the same matches. Events are generated with a seeded math/rand (no wall
// clock), as JSON strings.

import (
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules/eql"
)

// diffQueries is a varied rule set: event and sequence rules, `any where`,
// several categories, multi-valued fields and keys, until, runs, missing
// events, samples.
var diffQueries = []string{
	`process where process.name == "sh"`,
	`process where process.name : "SH*"`,
	`any where event.type == "start"`,
	`network where cidrMatch(destination.ip, "10.0.0.0/8", "FE80::/10")`,
	`file where file.path like~ "/TMP/*"`,
	`process where process.args in ("-c", "-e") and not process.name in~ ("python")`,
	`any where user.name != null and user.name != "u0"`,
	`dns where dns.question.name regex~ """[a-z]+\.example\.com"""`,
	`process where startsWith~(process.name, "BA") or endsWith(process.name, ".exe")`,
	`authentication where length(user.name) == 2`,
	`any where not process.pid > 3`,
	`process where process.pid in (1, 2)`,
	`any where dns.question.name : "*.EXAMPLE.com"`,
	`network where destination.ip == "10.0.0.1"`,
	`sequence by host.id with maxspan=5s [process where true] [network where true]`,
	`sequence by host.id, user.name with maxspan=10s [process where event.type == "start"] [file where true] [network where true]`,
	`sequence with maxspan=3s [any where true] by host.id [any where true] by host.id`,
	`sequence by host.id with maxspan=8s [process where true] [file where true] until [authentication where true]`,
	`sequence by host.id with maxspan=6s [process where true] with runs=2 [network where true]`,
	`sequence by host.id with maxspan=5s [process where true] ![authentication where true] [network where true]`,
	`sequence by host.id with maxspan=4s [process where event.type == "start"] ![process where event.type == "end"]`,
	`sequence by host.id with maxspan=4s ![dns where true] [file where true]`,
	`sequence by user.name with maxspan=20s [authentication where true] [process where true]`,
	`sequence by host.id with maxspan=5s [any where event.category == "process"] [any where event.category == "network"]`,
	`sequence [process where process.name == "sh"] by process.pid [process where process.name == "bash"] by process.pid`,
	`sequence by host.id with maxspan=5s [process where true] [process where true]`,
	`sequence by host.id with maxspan=10s [network where true] [network where true] [network where true]`,
	`sequence by host.id with maxspan=5s [file where true] ![file where file.path : "*.sh"]`,
	`sequence by ?user.name with maxspan=5s [process where true] [file where true]`,
	`sample by host.id [process where true] [dns where true]`,
	`sample by host.id, user.name [file where true] [network where true] [authentication where true]`,
}

type genEvent struct {
	id  int
	ts  int64 // Unix milliseconds
	raw string
}

var (
	genCats  = []string{"process", "network", "file", "dns", "authentication"}
	genNames = []string{"sh", "bash", "SH", "Bash", "python", "curl", "cmd.exe", "sshd"}
	genArgs  = []string{"-c", "-e", "-x", "id", "/tmp/a.sh"}
	genIPs   = []string{"10.0.0.1", "10.9.8.7", "192.168.1.5", "fe80::1", "FE80::abcd", "2001:db8::1"}
	genPaths = []string{"/tmp/a.sh", "/TMP/b.py", "/etc/passwd", "/home/u/x.sh"}
	genDNS   = []string{"a.example.com", "B.EXAMPLE.COM", "x.other.org", "foo.example.com"}
)

// genStream returns n events with non-decreasing timestamps (gaps of
// 0..maxGapMs) and unique `seq` tiebreakers.
func genStream(seed int64, n int, maxGapMs int) []genEvent {
	r := rand.New(rand.NewSource(seed))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	ts := base
	pick := func(xs []string) string { return xs[r.Intn(len(xs))] }
	out := make([]genEvent, 0, n)
	for i := 1; i <= n; i++ {
		ts += int64(r.Intn(maxGapMs + 1))
		var m []string
		m = append(m, fmt.Sprintf(`"@timestamp":%q`, time.UnixMilli(ts).UTC().Format(time.RFC3339Nano)), fmt.Sprintf(`"seq":%d`, i))
		var ev []string
		switch x := r.Intn(10); {
		case x < 8:
			ev = append(ev, fmt.Sprintf(`"category":%q`, pick(genCats)))
		case x < 9:
			ev = append(ev, fmt.Sprintf(`"category":[%q,%q]`, pick(genCats), pick(genCats)))
		}
		switch r.Intn(3) {
		case 0:
			ev = append(ev, `"type":"start"`)
		case 1:
			ev = append(ev, `"type":"end"`)
		default:
			ev = append(ev, `"type":["start","info"]`)
		}
		m = append(m, `"event":{`+strings.Join(ev, ",")+`}`)
		m = append(m, fmt.Sprintf(`"host":{"id":"h%d"}`, r.Intn(3)))
		switch x := r.Intn(10); {
		case x < 8:
			m = append(m, fmt.Sprintf(`"user":{"name":"u%d"}`, r.Intn(4)))
		case x < 9:
			m = append(m, fmt.Sprintf(`"user":{"name":["u%d","u%d"]}`, r.Intn(4), r.Intn(4)))
		}
		var args []string
		for k := r.Intn(3) + 1; k > 0; k-- {
			args = append(args, fmt.Sprintf("%q", pick(genArgs)))
		}
		m = append(m, fmt.Sprintf(`"process":{"name":%q,"pid":%d,"args":[%s]}`, pick(genNames), r.Intn(5)+1, strings.Join(args, ",")))
		m = append(m, fmt.Sprintf(`"destination.ip":%q`, pick(genIPs)))
		m = append(m, fmt.Sprintf(`"file":{"path":%q}`, pick(genPaths)))
		m = append(m, fmt.Sprintf(`"dns":{"question":{"name":%q}}`, pick(genDNS)))
		out = append(out, genEvent{id: i, ts: ts, raw: "{" + strings.Join(m, ",") + "}"})
	}
	return out
}

// disorder returns the events in an arrival order where each event is
// delayed by up to maxDelayMs relative to its timestamp.
func disorder(evs []genEvent, seed int64, maxDelayMs int) []genEvent {
	r := rand.New(rand.NewSource(seed))
	type arr struct {
		at int64
		e  genEvent
	}
	as := make([]arr, len(evs))
	for i, e := range evs {
		as[i] = arr{e.ts + int64(r.Intn(maxDelayMs+1)), e}
	}
	sort.SliceStable(as, func(i, j int) bool { return as[i].at < as[j].at })
	out := make([]genEvent, len(as))
	for i, a := range as {
		out[i] = a.e
	}
	return out
}

func compileDiff(t *testing.T, opts Options) *Program {
	t.Helper()
	var defs []RuleDef
	for i, q := range diffQueries {
		defs = append(defs, RuleDef{ID: fmt.Sprintf("q%02d", i), Source: &eql.Source{Text: q}})
	}
	p, err := Compile(defs, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if len(p.Rules()) != len(diffQueries) {
		t.Fatalf("compiled %d of %d rules", len(p.Rules()), len(diffQueries))
	}
	return p
}

func matchStrings(ms []Match) []string {
	var out []string
	for _, m := range ms {
		var refs []string
		for _, r := range m.Refs {
			if r == MissingRef {
				refs = append(refs, "-")
			} else {
				refs = append(refs, fmt.Sprint(r))
			}
		}
		out = append(out, m.Rule.ID+":"+strings.Join(refs, ","))
	}
	return out
}

// diffProcess feeds events (ref = event id) and returns the sorted match strings
// of each Process call.
func diffProcess(t *testing.T, e *Engine, evs []genEvent) [][]string {
	t.Helper()
	var out [][]string
	for _, ev := range evs {
		ms, _, err := e.Process([]byte(ev.raw), uint64(ev.id))
		if err != nil {
			t.Fatalf("event %d: %v", ev.id, err)
		}
		s := matchStrings(ms)
		sort.Strings(s)
		out = append(out, s)
	}
	return out
}

// diffFeed is diffProcess followed by Flush, whose matches come last.
func diffFeed(t *testing.T, e *Engine, evs []genEvent) [][]string {
	t.Helper()
	out := diffProcess(t, e, evs)
	s := matchStrings(e.Flush())
	sort.Strings(s)
	return append(out, s)
}

func diffFlat(xs [][]string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x...)
	}
	return out
}

func diffStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	g, w := map[string]int{}, map[string]int{}
	for _, s := range got {
		g[s]++
	}
	for _, s := range want {
		w[s]++
	}
	var extra, missing []string
	for s, n := range g {
		if n > w[s] {
			extra = append(extra, fmt.Sprintf("%s x%d", s, n-w[s]))
		}
	}
	for s, n := range w {
		if n > g[s] {
			missing = append(missing, fmt.Sprintf("%s x%d", s, n-g[s]))
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 10 {
		extra = append(extra[:10], "...")
	}
	if len(missing) > 10 {
		missing = append(missing[:10], "...")
	}
	t.Errorf("%s: %d vs %d matches; only in got: %v; only in want: %v", what, len(got), len(want), extra, missing)
}

// TestDifferentialIndex: the category index must not change results.
func TestDifferentialIndex(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		evs := genStream(seed, 3000, 700)
		on := diffFeed(t, compileDiff(t, Options{TiebreakerField: "seq"}).NewEngine(), evs)
		off := diffFeed(t, compileDiff(t, Options{TiebreakerField: "seq", DisableIndex: true}).NewEngine(), evs)
		if len(diffFlat(on)) == 0 {
			t.Fatalf("seed %d: no matches at all; the generator is too sparse", seed)
		}
		for i := range on {
			if !slices.Equal(on[i], off[i]) {
				at := "flush"
				if i < len(evs) {
					at = fmt.Sprintf("event %d", evs[i].id)
				}
				t.Errorf("seed %d, %s: index on %v, index off %v", seed, at, on[i], off[i])
				break
			}
		}
		diffStrings(t, fmt.Sprintf("seed %d index on vs off", seed), diffFlat(on), diffFlat(off))
	}
}

// TestDifferentialStreamingVsSorted: disorder within AllowedDisorder gives
// the same matches as the events sorted by timestamp.
func TestDifferentialStreamingVsSorted(t *testing.T) {
	opts := Options{TiebreakerField: "seq", AllowedDisorder: 3 * time.Second}
	for _, seed := range []int64{11, 12, 13} {
		evs := genStream(seed, 3000, 700)
		sorted := diffFlat(diffFeed(t, compileDiff(t, opts).NewEngine(), evs))
		shuffled := disorder(evs, seed*7, 1500)
		e := compileDiff(t, opts).NewEngine()
		streamed := diffFlat(diffFeed(t, e, shuffled))
		sort.Strings(sorted)
		sort.Strings(streamed)
		if st := e.Stats(); st.Late != 0 {
			t.Errorf("seed %d: %d late events with disorder inside the bound", seed, st.Late)
		}
		diffStrings(t, fmt.Sprintf("seed %d streamed vs sorted", seed), streamed, sorted)
	}
}

// TestDifferentialSnapshotRestore: a snapshot taken mid-stream and restored
// into a new engine (of a freshly compiled program) continues exactly like an
// uninterrupted run.
func TestDifferentialSnapshotRestore(t *testing.T) {
	opts := Options{TiebreakerField: "seq", AllowedDisorder: 3 * time.Second}
	evs := disorder(genStream(21, 2000, 700), 5, 1500)
	want := diffFlat(diffFeed(t, compileDiff(t, opts).NewEngine(), evs))
	for _, cut := range []int{1, 333, 1000, 1999} {
		a := compileDiff(t, opts).NewEngine()
		first := diffProcess(t, a, evs[:cut])
		snap := a.Snapshot()
		b := compileDiff(t, opts).NewEngine()
		if err := b.Restore(snap); err != nil {
			t.Fatalf("cut %d: restore: %v", cut, err)
		}
		if as, bs := a.Stats(), b.Stats(); as != bs {
			t.Errorf("cut %d: stats after restore %+v, want %+v", cut, bs, as)
		}
		got := append(diffFlat(first), diffFlat(diffFeed(t, b, evs[cut:]))...)
		diffStrings(t, fmt.Sprintf("cut %d snapshot/restore vs uninterrupted", cut), got, want)
	}
}

func diffBatches(evs []genEvent, n int) [][]genEvent {
	var out [][]genEvent
	for len(evs) > 0 {
		k := min(n, len(evs))
		out = append(out, evs[:k])
		evs = evs[k:]
	}
	return out
}

// TestDifferentialRollback: processing a batch, rolling back and processing it
// again equals processing it once.
func TestDifferentialRollback(t *testing.T) {
	opts := Options{TiebreakerField: "seq", AllowedDisorder: 3 * time.Second}
	evs := disorder(genStream(31, 2000, 700), 9, 1500)
	ref := compileDiff(t, opts).NewEngine()
	want := diffFlat(diffFeed(t, ref, evs))

	e := compileDiff(t, opts).NewEngine()
	var got [][]string
	for _, b := range diffBatches(evs, 37) {
		e.Begin()
		diffProcess(t, e, b)
		if err := e.Rollback(); err != nil {
			t.Fatalf("rollback: %v", err)
		}
		e.Begin()
		got = append(got, diffProcess(t, e, b)...)
		e.Commit()
	}
	fl := matchStrings(e.Flush())
	sort.Strings(fl)
	got = append(got, fl)
	diffStrings(t, "rollback+reprocess vs once", diffFlat(got), want)
	if es, rs := e.Stats(), ref.Stats(); es != rs {
		t.Errorf("stats %+v, want %+v", es, rs)
	}
}

// TestDifferentialCommitDeltas: the deltas and meta of each Commit, applied
// to a fresh engine (ApplyMeta + ApplyDelta + Rebuild), reproduce the state:
// the replica continues exactly like the original.
func TestDifferentialCommitDeltas(t *testing.T) {
	opts := Options{TiebreakerField: "seq", AllowedDisorder: 3 * time.Second}
	evs := disorder(genStream(41, 2000, 700), 13, 1500)
	bs := diffBatches(evs, 50)
	switchAt := len(bs) / 2

	ref := compileDiff(t, opts).NewEngine()
	var want []string
	for i, b := range bs {
		for _, ev := range b {
			ms, _, err := ref.Process([]byte(ev.raw), uint64(ev.id))
			if err != nil {
				t.Fatal(err)
			}
			if i >= switchAt {
				want = append(want, matchStrings(ms)...)
			}
		}
	}
	want = append(want, matchStrings(ref.Flush())...)

	orig := compileDiff(t, opts).NewEngine()
	replica := compileDiff(t, opts).NewEngine()
	for _, b := range bs[:switchAt] {
		orig.Begin()
		for _, ev := range b {
			if _, _, err := orig.Process([]byte(ev.raw), uint64(ev.id)); err != nil {
				t.Fatal(err)
			}
		}
		deltas, meta := orig.Commit()
		if err := replica.ApplyMeta(meta); err != nil {
			t.Fatalf("apply meta: %v", err)
		}
		for _, d := range deltas {
			if err := replica.ApplyDelta(d); err != nil {
				t.Fatalf("apply delta: %v", err)
			}
		}
		replica.Rebuild()
	}
	if os, rs := orig.Stats(), replica.Stats(); os != rs {
		t.Errorf("replica stats %+v, want %+v", rs, os)
	}
	var got []string
	for _, b := range bs[switchAt:] {
		for _, ev := range b {
			ms, _, err := replica.Process([]byte(ev.raw), uint64(ev.id))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, matchStrings(ms)...)
		}
	}
	got = append(got, matchStrings(replica.Flush())...)
	sort.Strings(got)
	sort.Strings(want)
	diffStrings(t, "replica from commit deltas vs uninterrupted", got, want)
}
