package partition

// Fast tests of the per-partition state machinery without Kafka: the state
// records a transaction produces, read back in log order by a Restorer,
// must rebuild an engine that continues exactly as the uninterrupted one;
// an abort must roll the engine and the next offset back; and a meta record
// that disagrees with the committed offset must be refused.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// Three planted apt hooks that download from public addresses: both APT
// rules (a sequence and an event rule) fire, so sequence state is pending
// between events.
const scenario = "../rules/testdata/scenarios/apt_package_manager_network_connection/tp_public_ipv4.ndjson"

var tp = TP{Topic: "in", Partition: 3}

func scenarioSet(t *testing.T) *rules.RuleSet {
	t.Helper()
	set, err := rules.Compile(rules.Builtin(), engine.Options{TimestampField: "@timestamp", CategoryField: "event.category",
		AllowedDisorder: 2 * time.Second, MaxStates: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func scenarioEvents(t *testing.T) [][]byte {
	t.Helper()
	data, err := os.ReadFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// stateLog is a stand-in for the compacted state topic: committed records in
// order (aborted transactions never reach it).
type stateLog struct{ recs []StateRecord }

func (l *stateLog) restore(t *testing.T, set *rules.RuleSet, committed int64) (*Processor, error) {
	t.Helper()
	r := NewRestorer(tp)
	r.Add([]byte("other/1/meta"), []byte{1, 2, 3}) // another partition's records are ignored
	for _, rec := range l.recs {
		r.Add(rec.Key, rec.Value)
	}
	return r.Build(set, committed)
}

func matchString(ms []engine.Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s%v", m.Rule.ID, m.Refs))
	}
	return out
}

// process runs evs[from:to] through p in one transaction (offsets = index)
// and returns the matches; committed, its state records go to log.
func process(t *testing.T, p *Processor, evs [][]byte, from, to int, log *stateLog, commit bool) []string {
	t.Helper()
	p.Begin()
	var out []string
	for i := from; i < to; i++ {
		ms, _, err := p.Engine.Process(evs[i], uint64(i))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		out = append(out, matchString(ms)...)
		p.Next = int64(i + 1)
	}
	if !commit {
		if err := p.Aborted(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	log.recs = append(log.recs, p.PendingState()...)
	p.Committed()
	return out
}

// reference is the uninterrupted run: matches after each event, then Flush.
func reference(t *testing.T, set *rules.RuleSet, evs [][]byte) (after [][]string, flush []string) {
	t.Helper()
	p := New(tp, set, 0)
	for i := range evs {
		ms, _, err := p.Engine.Process(evs[i], uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		after = append(after, matchString(ms))
	}
	return after, matchString(p.Engine.Flush())
}

func TestRestoreContinuesExactly(t *testing.T) {
	set := scenarioSet(t)
	evs := scenarioEvents(t)
	after, flush := reference(t, set, evs)
	var total int
	for _, a := range after {
		total += len(a)
	}
	if total+len(flush) == 0 {
		t.Fatal("the scenario raises no alerts: the test would prove nothing")
	}
	for cut := 1; cut < len(evs); cut++ {
		// commit in transactions of 4 events up to cut, then restore
		log := &stateLog{}
		a := New(tp, set, 0)
		for from := 0; from < cut; from += 4 {
			process(t, a, evs, from, min(from+4, cut), log, true)
		}
		b, err := log.restore(t, set, int64(cut))
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if b.Next != int64(cut) {
			t.Fatalf("cut %d: restored next offset %d", cut, b.Next)
		}
		if got, want := b.Engine.Stats().LiveStates, a.Engine.Stats().LiveStates; got != want {
			t.Fatalf("cut %d: restored %d live states, the original has %d", cut, got, want)
		}
		var got, want []string
		for i := cut; i < len(evs); i++ {
			ms, _, err := b.Engine.Process(evs[i], uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, matchString(ms)...)
			want = append(want, after[i]...)
		}
		got = append(got, matchString(b.Engine.Flush())...)
		want = append(want, flush...)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("cut %d: after restore %v, uninterrupted %v", cut, got, want)
		}
	}
}

func TestAbortRollsBack(t *testing.T) {
	set := scenarioSet(t)
	evs := scenarioEvents(t)
	after, flush := reference(t, set, evs)
	for cut := 0; cut+6 <= len(evs); cut += 3 {
		log := &stateLog{}
		p := New(tp, set, 0)
		var got []string
		if cut > 0 {
			got = process(t, p, evs, 0, cut, log, true)
		}
		committedLive := p.Engine.Stats().LiveStates
		process(t, p, evs, cut, cut+6, log, false) // aborted: consumed again below
		if p.Next != int64(cut) {
			t.Fatalf("cut %d: next offset %d after abort", cut, p.Next)
		}
		if live := p.Engine.Stats().LiveStates; live != committedLive {
			t.Fatalf("cut %d: %d live states after abort, %d committed", cut, live, committedLive)
		}
		got = append(got, process(t, p, evs, cut, len(evs), log, true)...)
		got = append(got, matchString(p.Engine.Flush())...)
		var want []string
		for _, a := range after {
			want = append(want, a...)
		}
		want = append(want, flush...)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("cut %d: with an aborted transaction %v, uninterrupted %v", cut, got, want)
		}
	}
}

func TestRestoreRefusesMismatchedOffsets(t *testing.T) {
	set := scenarioSet(t)
	evs := scenarioEvents(t)
	log := &stateLog{}
	p := New(tp, set, 0)
	process(t, p, evs, 0, 10, log, true)
	if _, err := log.restore(t, set, 9); !errors.Is(err, ErrOffsetMismatch) {
		t.Errorf("state at 10, committed 9: %v, want ErrOffsetMismatch", err)
	}
	if _, err := log.restore(t, set, 11); !errors.Is(err, ErrOffsetMismatch) {
		t.Errorf("state at 10, committed 11: %v, want ErrOffsetMismatch", err)
	}
	if _, err := (&stateLog{}).restore(t, set, 5); !errors.Is(err, ErrOffsetMismatch) {
		t.Errorf("no state, committed 5: %v, want ErrOffsetMismatch", err)
	}
	q, err := (&stateLog{}).restore(t, set, -1)
	if err != nil || q.Next != 0 {
		t.Errorf("no state, no commit: next %v, %v; want a fresh partition at 0", q, err)
	}
	// no committed offset but state exists: resume where the state is
	q, err = log.restore(t, set, -1)
	if err != nil || q.Next != 10 {
		t.Errorf("state at 10, no commit: %v; want next 10", err)
	}
}
