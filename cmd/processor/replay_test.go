package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/partition"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

func alertIDs(t *testing.T, stdout string) []string {
	t.Helper()
	var ids []string
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if l == "" {
			continue
		}
		var a struct {
			ID string `json:"kibana.alert.uuid"`
		}
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

func readStats(t *testing.T, path string) evalStatsJSON {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s evalStatsJSON
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// eval --flush-at replays idle flushes where a processor recorded them: its
// alerts and final state are those of a partition processor that flushed
// after the same records (partition.Processor.FlushIdle).
func TestEvalFlushAtReplaysRecordedFlushes(t *testing.T) {
	g, err := gen.New(gen.Config{Seed: 5, Events: 6000, Hosts: 6, AttackRate: 0.08, LookalikeRate: 0.08, Disorder: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	if _, err := g.WriteNDJSON(&in); err != nil {
		t.Fatal(err)
	}
	events := bytes.Split(bytes.TrimSuffix(in.Bytes(), []byte("\n")), []byte("\n"))
	var points []int64
	for n := int64(250); n <= int64(len(events)); n += 250 {
		points = append(points, n)
	}

	// online: a partition processor, flushing after the same records
	set, err := rules.Compile(rules.Builtin(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := partition.New(partition.TP{Topic: "in", Partition: 0}, set, 0)
	var want []string
	add := func(ms []engine.Match) {
		for _, m := range ms {
			_, id, err := set.Alert(m, func(ref uint64) ([]byte, bool) { return events[ref], true }, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, id)
		}
	}
	flushed := 0
	for i, ev := range events {
		p.Begin()
		ms, _, err := p.Engine.Process(ev, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		add(ms)
		p.Next++
		if slices.Contains(points, p.Next) {
			add(p.FlushIdle())
			flushed++
		}
		p.Committed()
	}
	online := p.Engine.Stats()
	if online.Late == 0 || p.Flushes == 0 {
		t.Fatalf("%d flushes and %d late events online: the test proves nothing", p.Flushes, online.Late)
	}

	dir := t.TempDir()
	strs := make([]string, len(points))
	for i, n := range points {
		strs[i] = strconv.FormatInt(n, 10)
	}
	list := filepath.Join(dir, "points")
	if err := os.WriteFile(list, []byte(strings.Join(strs, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{strings.Join(strs, ","), "@" + list} {
		stats := filepath.Join(dir, "stats.json")
		r := eval(t, in.Bytes(), "--quiet", "--final-flush=false", "--flush-at", arg, "--stats-out", stats)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if got := alertIDs(t, r.stdout); !slices.Equal(got, want) {
			t.Fatalf("--flush-at %.40s: %d alerts, online %d", arg, len(got), len(want))
		}
		s := readStats(t, stats)
		if s.Late != online.Late || s.Matches != online.Matches || s.Watermark != online.Watermark || s.Buffered != online.Buffered ||
			s.Expired != online.Expired || s.Events != online.Events || s.IdleFlushes != len(points) {
			t.Fatalf("replay stats %+v, online %+v", s, online)
		}
	}

	// without the flushes: no late events, and the end of input decides the rest
	stats := filepath.Join(dir, "plain.json")
	r := eval(t, in.Bytes(), "--quiet", "--stats-out", stats)
	if s := readStats(t, stats); r.code != 0 || s.Late != 0 || s.Buffered != 0 {
		t.Fatalf("plain eval: exit %d, %+v", r.code, s)
	}
	// a flush point after the end of the input is an error, not ignored
	if r := eval(t, in.Bytes(), "--flush-at", strconv.Itoa(len(events)+1)); r.code != exitUsage {
		t.Fatalf("--flush-at past the end: exit %d, want %d", r.code, exitUsage)
	}
	if r := eval(t, in.Bytes(), "--flush-at", "12,x"); r.code != exitUsage {
		t.Fatalf("--flush-at 12,x: exit %d", r.code)
	}
}
