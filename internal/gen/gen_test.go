package gen

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustNew(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func ndjson(t testing.TB, cfg Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := mustNew(t, cfg).WriteNDJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != cfg.Events {
		t.Fatalf("WriteNDJSON wrote %d events, want %d", n, cfg.Events)
	}
	return buf.Bytes()
}

func lines(b []byte) [][]byte {
	ls := bytes.Split(b, []byte("\n"))
	if len(ls) > 0 && len(ls[len(ls)-1]) == 0 {
		ls = ls[:len(ls)-1]
	}
	return ls
}

var testCfg = Config{Seed: 1, Events: 20000, Hosts: 7, AttackRate: 0.01, LookalikeRate: 0.02, Disorder: 2 * time.Second}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	a := ndjson(t, testCfg)
	b := ndjson(t, testCfg)
	if !bytes.Equal(a, b) {
		t.Fatal("same config produced different output")
	}
	other := testCfg
	other.Seed = 2
	c := ndjson(t, other)
	if bytes.Equal(a, c) {
		t.Fatal("different seeds produced the same output")
	}
	// Next and WriteNDJSON agree.
	g := mustNew(t, testCfg)
	var viaNext bytes.Buffer
	var buf []byte
	for {
		var ok bool
		buf, _, ok = g.Next(buf[:0])
		if !ok {
			break
		}
		viaNext.Write(buf)
		viaNext.WriteByte('\n')
	}
	if !bytes.Equal(a, viaNext.Bytes()) {
		t.Fatal("Next and WriteNDJSON differ")
	}
	t.Logf("sha256 %x", sha256.Sum256(a))
}

func TestValidJSONAndFields(t *testing.T) {
	t.Parallel()
	out := ndjson(t, testCfg)
	ls := lines(out)
	if len(ls) != testCfg.Events {
		t.Fatalf("%d lines, want %d", len(ls), testCfg.Events)
	}
	actions := map[string]int{}
	datasets := map[string]int{}
	for i, l := range ls {
		if !json.Valid(l) {
			t.Fatalf("line %d is not valid JSON: %s", i, l)
		}
		if bytes.IndexByte(l, '\n') >= 0 {
			t.Fatalf("line %d contains a newline", i)
		}
		d := parseDoc(t, l, i)
		for _, f := range []string{"@timestamp", "event.kind", "event.category", "event.type", "event.action", "event.dataset", "event.id",
			"host.id", "host.name", "host.hostname", "host.os.type", "host.os.name", "host.os.kernel", "agent.id", "agent.type",
			"agent.version", "ecs.version", "user.name", "user.id", "process.pid", "process.entity_id", "process.name", "process.executable"} {
			if !d.exists(f) {
				t.Fatalf("line %d lacks %s: %s", i, f, l)
			}
		}
		if _, ok := d.fields["event.category"].([]any); !ok {
			t.Fatalf("line %d: event.category is not an array", i)
		}
		if _, ok := d.fields["event.type"].([]any); !ok {
			t.Fatalf("line %d: event.type is not an array", i)
		}
		if d.str("host.os.type") != "linux" {
			t.Fatalf("line %d: host.os.type %q", i, d.str("host.os.type"))
		}
		if ts := d.str("@timestamp"); !strings.HasSuffix(ts, "Z") || len(ts) != len("2026-01-01T00:00:00.000Z") {
			t.Fatalf("line %d: @timestamp %q is not RFC 3339 UTC with milliseconds", i, ts)
		}
		a := d.str("event.action")
		actions[a]++
		datasets[d.str("event.dataset")]++
		switch {
		case d.eq("event.category", "process"):
			for _, f := range []string{"process.args", "process.args_count", "process.command_line", "process.working_directory",
				"process.hash.sha256", "process.start"} {
				if !d.exists(f) {
					t.Fatalf("line %d lacks %s: %s", i, f, l)
				}
			}
			if args, ok := d.fields["process.args"].([]any); !ok || float64(len(args)) != d.fields["process.args_count"] {
				t.Fatalf("line %d: process.args_count does not match process.args", i)
			}
			if d.exists("process.parent.entity_id") {
				for _, f := range []string{"process.parent.pid", "process.parent.name", "process.parent.executable", "process.parent.args", "process.parent.command_line"} {
					if !d.exists(f) {
						t.Fatalf("line %d lacks %s: %s", i, f, l)
					}
				}
			}
			if a == "end" && !d.exists("process.exit_code") {
				t.Fatalf("line %d: end without exit_code", i)
			}
		case d.eq("event.category", "network"):
			for _, f := range []string{"destination.ip", "destination.port", "source.ip", "source.port", "network.transport", "network.type", "network.direction"} {
				if !d.exists(f) {
					t.Fatalf("line %d lacks %s: %s", i, f, l)
				}
			}
		case d.eq("event.category", "file"):
			for _, f := range []string{"file.path", "file.name"} {
				if !d.exists(f) {
					t.Fatalf("line %d lacks %s: %s", i, f, l)
				}
			}
		default:
			t.Fatalf("line %d: unexpected category %v", i, d.fields["event.category"])
		}
	}
	for _, a := range []string{"exec", "fork", "end", "connection_attempted", "connection_accepted", "disconnect_received", "creation", "modification", "deletion"} {
		if actions[a] == 0 {
			t.Errorf("no %q event in %d events", a, len(ls))
		}
	}
	t.Logf("actions %v", actions)
	t.Logf("datasets %v", datasets)
}

func TestDottedKeys(t *testing.T) {
	t.Parallel()
	ls := lines(ndjson(t, testCfg))
	dotted := 0
	for _, l := range ls {
		if bytes.Contains(l, []byte(`"event.action"`)) || bytes.Contains(l, []byte(`"process.`)) ||
			bytes.Contains(l, []byte(`"parent.`)) || bytes.Contains(l, []byte(`"host.`)) {
			dotted++
		}
	}
	share := float64(dotted) / float64(len(ls))
	if share < 0.03 || share > 0.08 {
		t.Errorf("%.1f%% of events have dotted keys, want about 5%%", 100*share)
	}
}

func TestSizes(t *testing.T) {
	t.Parallel()
	ls := lines(ndjson(t, testCfg))
	var procSum, procN, otherSum, otherN, maxLen int
	for _, l := range ls {
		maxLen = max(maxLen, len(l))
		if bytes.Contains(l, []byte(`"endpoint.events.process"`)) {
			procSum += len(l)
			procN++
		} else {
			otherSum += len(l)
			otherN++
		}
	}
	procAvg, otherAvg := procSum/procN, otherSum/otherN
	t.Logf("process events: %d, avg %d B; others: %d, avg %d B; max %d B", procN, procAvg, otherN, otherAvg, maxLen)
	// Elastic Defend's Linux process events carry the parent and three
	// leaders with their users and groups: about 4 KB
	if procAvg < 3000 || procAvg > 5000 {
		t.Errorf("average process event is %d B, want about 3-5 KB", procAvg)
	}
	if otherAvg < 1000 || otherAvg > 2500 {
		t.Errorf("average network/file event is %d B", otherAvg)
	}
	if maxLen > 8192 {
		t.Errorf("largest event is %d B", maxLen)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	cfg := testCfg
	cfg.AttackRate, cfg.LookalikeRate = 0.05, 0.05
	g := mustNew(t, cfg)
	var buf bytes.Buffer
	if _, err := g.WriteNDJSON(&buf); err != nil {
		t.Fatal(err)
	}
	stream := lines(buf.Bytes())
	st := g.Stats()
	if st.Events != cfg.Events {
		t.Errorf("Stats.Events = %d, want %d", st.Events, cfg.Events)
	}
	sum := 0
	for _, k := range Kinds() {
		if _, ok := st.ChainsByKind[k]; !ok {
			t.Errorf("ChainsByKind lacks %s", k)
		}
		sum += st.ChainsByKind[k]
	}
	if sum != st.Chains || len(st.ChainsByKind) != len(Kinds()) {
		t.Errorf("ChainsByKind %v does not add up to Chains %d", st.ChainsByKind, st.Chains)
	}
	lsum := 0
	for _, n := range st.LookalikesByVariant {
		lsum += n
	}
	if lsum != st.Lookalikes {
		t.Errorf("LookalikesByVariant adds up to %d, Lookalikes is %d", lsum, st.Lookalikes)
	}
	chains, looks := 0, 0
	for _, inj := range g.Injections() {
		if inj.Lookalike {
			looks++
		} else {
			chains++
		}
		if inj.HostID == "" || inj.HostName == "" || len(inj.EntityIDs) == 0 || inj.Time.IsZero() || len(inj.Lines) != len(inj.EntityIDs) {
			t.Errorf("incomplete injection %+v", inj)
			continue
		}
		// Lines point at the marked events in the emitted stream.
		for i, n := range inj.Lines {
			if n < 0 || n >= len(stream) {
				t.Errorf("%s/%s: line %d outside the stream", inj.Kind, inj.Variant, n)
				continue
			}
			d := parseDoc(t, stream[n], n)
			if got := d.str("process.entity_id"); got != inj.EntityIDs[i] {
				t.Errorf("%s/%s: line %d has process.entity_id %q, want %q", inj.Kind, inj.Variant, n, got, inj.EntityIDs[i])
			}
			if i == len(inj.Lines)-1 && d.ts != inj.Time.UnixMilli() {
				t.Errorf("%s/%s: line %d at %d, Time is %v", inj.Kind, inj.Variant, n, d.ts, inj.Time)
			}
		}
	}
	if chains != st.Chains || looks != st.Lookalikes {
		t.Errorf("Injections has %d chains and %d look-alikes, Stats %d and %d", chains, looks, st.Chains, st.Lookalikes)
	}
	// About AttackRate per chain slot, with about Events/6 slots.
	if st.Chains < 50 || st.Lookalikes < 50 {
		t.Errorf("too few injections: %+v", st)
	}

	quiet := testCfg
	quiet.AttackRate, quiet.LookalikeRate = 0, 0
	g = mustNew(t, quiet)
	if _, err := g.WriteNDJSON(io.Discard); err != nil {
		t.Fatal(err)
	}
	if st := g.Stats(); st.Chains != 0 || st.Lookalikes != 0 || len(g.Injections()) != 0 {
		t.Errorf("rates 0 injected %+v", st)
	}
}

// TestDisorderBounded checks the contract on emitted order: within a host,
// an event's @timestamp is never earlier than the greatest @timestamp seen
// before it for that host minus Disorder; with Disorder 0 the whole stream is
// in @timestamp order.
func TestDisorderBounded(t *testing.T) {
	t.Parallel()
	for _, disorder := range []time.Duration{0, 250 * time.Millisecond, 5 * time.Second} {
		cfg := testCfg
		cfg.Disorder = disorder
		g := mustNew(t, cfg)
		maxSeen := map[string]int64{}
		var globalMax int64
		late, n := 0, 0
		var buf []byte
		for {
			var hostID string
			var ok bool
			buf, hostID, ok = g.Next(buf[:0])
			if !ok {
				break
			}
			var e struct {
				TS   time.Time `json:"@timestamp"`
				Host struct {
					ID string `json:"id"`
				} `json:"host"`
				HostID string `json:"host.id"`
			}
			if err := json.Unmarshal(buf, &e); err != nil {
				t.Fatal(err)
			}
			id := e.Host.ID + e.HostID
			if id != hostID {
				t.Fatalf("Next returned host %q for an event of host %q", hostID, id)
			}
			ts := e.TS.UnixMilli()
			if n == 0 && !e.TS.Equal(DefaultStart) {
				t.Errorf("first event at %v, want %v", e.TS, DefaultStart)
			}
			n++
			if m, ok := maxSeen[id]; ok && ts < m-disorder.Milliseconds() {
				t.Fatalf("disorder %v: event %d of host %s at %v is %v before the host's max %v",
					disorder, n, id, e.TS, time.Duration(m-ts)*time.Millisecond, time.UnixMilli(m).UTC())
			} else if ok && ts < m {
				late++
			}
			maxSeen[id] = max(maxSeen[id], ts)
			if disorder == 0 && ts < globalMax {
				t.Fatalf("disorder 0: event %d at %v before %v", n, e.TS, time.UnixMilli(globalMax).UTC())
			}
			globalMax = max(globalMax, ts)
		}
		if disorder >= time.Second && late == 0 {
			t.Errorf("disorder %v: no event was out of order", disorder)
		}
		t.Logf("disorder %v: %d of %d events behind their host's max", disorder, late, n)
	}
}

func TestHostsAndRate(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 3, Events: 30000, Hosts: 25, Rate: 500}
	docs, _ := generateDocs(t, cfg)
	ids, names := map[string]bool{}, map[string]bool{}
	hostOfName := map[string]string{}
	for _, d := range docs {
		id, name := d.str("host.id"), d.str("host.name")
		ids[id], names[name] = true, true
		if prev, ok := hostOfName[name]; ok && prev != id {
			t.Fatalf("host name %s has ids %s and %s", name, prev, id)
		}
		hostOfName[name] = id
		if d.str("host.hostname") != name {
			t.Fatalf("host.hostname %q != host.name %q", d.str("host.hostname"), name)
		}
	}
	if len(ids) != cfg.Hosts || len(names) != cfg.Hosts {
		t.Errorf("%d host ids and %d names, want %d", len(ids), len(names), cfg.Hosts)
	}
	first, last := docs[0].ts, docs[0].ts
	for _, d := range docs {
		last = max(last, d.ts)
	}
	// Long-lived processes end far in the future; look at the bulk.
	tss := make([]int64, len(docs))
	for i, d := range docs {
		tss[i] = d.ts
	}
	slices.Sort(tss)
	span := float64(tss[len(tss)*9/10]-first) / 1000
	rate := float64(len(docs)*9/10) / span
	if math.Abs(rate-cfg.Rate)/cfg.Rate > 0.25 {
		t.Errorf("event rate %.0f/s, want about %.0f/s", rate, cfg.Rate)
	}
	t.Logf("rate %.0f events/s over %.0fs (stream ends %v after start)", rate, span, time.Duration(last-first)*time.Millisecond)
}

// TestProcessTrees checks that entity ids link consistently: a process's
// pid never changes, a forked entity is new, and parents are processes the
// host has (or had) running.
func TestProcessTrees(t *testing.T) {
	t.Parallel()
	cfg := testCfg
	cfg.Disorder = 0
	docs, _ := generateDocs(t, cfg)
	type key struct{ host, id string }
	pidOf := map[key]string{}
	forked := map[key]bool{}
	known := map[key]bool{}
	for _, d := range docs {
		h := d.str("host.id")
		for _, f := range []string{"process.parent.entity_id", "process.session_leader.entity_id", "process.group_leader.entity_id", "process.entry_leader.entity_id"} {
			if id := d.str(f); id != "" {
				known[key{h, id}] = true
			}
		}
		if !d.eq("event.category", "process") {
			continue
		}
		k := key{h, d.str("process.entity_id")}
		pid := d.str("process.pid")
		if p, ok := pidOf[k]; ok && p != pid {
			t.Fatalf("entity %s has pids %s and %s", k.id, p, pid)
		}
		pidOf[k] = pid
		if d.eq("event.action", "fork") {
			if forked[k] {
				t.Fatalf("entity %s forked twice", k.id)
			}
			forked[k] = true
		}
		if pp := d.str("process.parent.entity_id"); pp != "" {
			if p, ok := pidOf[key{h, pp}]; ok && p != d.str("process.parent.pid") {
				t.Fatalf("parent %s has pid %s, event says %s", pp, p, d.str("process.parent.pid"))
			}
		}
	}
	// Every exec'd process either forked in the stream or predates it.
	for _, d := range docs {
		if d.eq("event.action", "exec") {
			k := key{d.str("host.id"), d.str("process.entity_id")}
			if !forked[k] && !known[k] {
				t.Fatalf("exec of %s without a fork", k.id)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	good := Config{Events: 10, Hosts: 1}
	if err := good.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	for name, c := range map[string]Config{
		"negative events": {Events: -1, Hosts: 1},
		"no hosts":        {Events: 1},
		"attack rate":     {Events: 1, Hosts: 1, AttackRate: 1.5},
		"nan rate":        {Events: 1, Hosts: 1, LookalikeRate: math.NaN()},
		"rates sum":       {Events: 1, Hosts: 1, AttackRate: 0.6, LookalikeRate: 0.6},
		"disorder":        {Events: 1, Hosts: 1, Disorder: -time.Second},
		"event rate":      {Events: 1, Hosts: 1, Rate: math.Inf(1)},
		"start":           {Events: 1, Hosts: 1, Start: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
}

func TestSmallStreams(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, 5, 37} {
		cfg := Config{Seed: int64(n), Events: n, Hosts: 3, AttackRate: 0.5, LookalikeRate: 0.5}
		ls := lines(ndjson(t, cfg))
		if len(ls) != n {
			t.Errorf("Events %d: got %d lines", n, len(ls))
		}
	}
	g := mustNew(t, Config{Events: 1, Hosts: 1, Start: time.Date(2030, 5, 6, 7, 8, 9, 10_000_000, time.UTC)})
	out, _, ok := g.Next(nil)
	if !ok || !bytes.HasPrefix(out, []byte(`{"@timestamp":"2030-05-06T07:08:09.010Z"`)) {
		t.Errorf("first event %s", out)
	}
	if _, _, ok := g.Next(nil); ok {
		t.Error("Next returned an event past Events")
	}
}

func TestKinds(t *testing.T) {
	want := []string{"apt_shell", "apt_netcon", "dpkg_unusual", "chmod_persistence"}
	if got := Kinds(); !slices.Equal(got, want) {
		t.Errorf("Kinds() = %v", got)
	}
	for _, v := range LookalikeVariants() {
		kind, _, _ := strings.Cut(v, "/")
		if !slices.Contains(want, kind) {
			t.Errorf("look-alike %s has unknown kind", v)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x01\x1f", "caf\u00e9 \u2028", "bad \xff utf8", `$(FILENAME)`} {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("%q: %s is not a JSON string: %v", s, b, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if got != want {
			t.Errorf("%q round-tripped to %q", s, got)
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n--; w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteNDJSONError(t *testing.T) {
	g := mustNew(t, Config{Events: 5000, Hosts: 2})
	_, err := g.WriteNDJSON(bufio.NewWriterSize(&failWriter{n: 1}, 16))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteNDJSON error = %v", err)
	}
}

func BenchmarkNext(b *testing.B) {
	g := mustNew(b, Config{Seed: 1, Events: math.MaxInt, Hosts: 50, AttackRate: 0.001, LookalikeRate: 0.002, Disorder: time.Second})
	var buf []byte
	bytes := 0
	b.ReportAllocs()
	for b.Loop() {
		buf, _, _ = g.Next(buf[:0])
		bytes += len(buf)
	}
	b.SetBytes(int64(bytes / b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
