package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxEventBytes is the --max-event-bytes of TestDeadLetters.
const maxEventBytes = 64 << 10

// badRecord is one record that must be dead-lettered, with the reason the
// processor must give.
type badRecord struct {
	name   string
	value  []byte
	reason string
}

// badCatalogue builds the bad records from a good event with a nested host
// object.
func badCatalogue(t testing.TB, good []byte) []badRecord {
	t.Helper()
	edit := func(f func(map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// A valid event that is only too large: 100 KiB of padding.
	large := edit(func(m map[string]any) { m["padding"] = strings.Repeat("x", 100<<10) })
	// 10,000 levels of {"a": — 60,001 bytes, under the size limit.
	deep := []byte(strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000))
	if len(deep) >= maxEventBytes {
		t.Fatalf("the deep record (%d bytes) must be under --max-event-bytes", len(deep))
	}
	// An invalid \u escape in an otherwise valid event.
	badEscape := append([]byte(`{"note":"bad \uZZZZ escape",`), good[1:]...)
	return []badRecord{
		{"not JSON", []byte("this is not JSON at all"), "malformed_json"},
		{"JSON array", []byte(`[{"@timestamp":"2026-01-01T00:00:00Z","host":{"id":"h"}}]`), "not_object"},
		{"JSON string", []byte(`"just a string"`), "not_object"},
		{"truncated JSON", good[:len(good)/2], "malformed_json"},
		{"larger than --max-event-bytes", large, "too_large"},
		{"10k levels deep", deep, "too_deep"},
		{"missing @timestamp", edit(func(m map[string]any) { delete(m, "@timestamp") }), "missing_timestamp"},
		{"invalid @timestamp", edit(func(m map[string]any) { m["@timestamp"] = "yesterday at noon" }), "invalid_timestamp"},
		{"missing host.id", edit(func(m map[string]any) { delete(m["host"].(map[string]any), "id") }), "missing_host_id"},
		{"boolean @timestamp", edit(func(m map[string]any) { m["@timestamp"] = true }), "invalid_timestamp"},
		{`invalid \u escape`, badEscape, "malformed_json"},
		// beyond the brief's catalogue
		{"empty value", nil, "malformed_json"},
		{"JSON null", []byte("null"), "not_object"},
	}
}

// sent is where a produced record landed.
type sent struct {
	bad       *badRecord // nil for a good event
	key       []byte
	value     []byte
	partition int32
	offset    int64
	err       error
}

// TestDeadLetters mixes a catalogue of bad records (twice, under different
// keys) into a generated stream: each must reach the dead-letter topic
// exactly once with the expected reason and a pointer to the original, and
// the good events must give exactly the alerts eval gives on them alone.
func TestDeadLetters(t *testing.T) {
	e := newEnv(t)
	n := e.names
	dir := t.TempDir()
	events, _ := genEvents(t, dir, "good.ndjson", true, "--seed", "505", "--events", "6000", "--hosts", "12",
		"--attack-rate", "0.05", "--lookalike-rate", "0.03", "--disorder", "500ms")
	want := evalAlerts(t, events)
	if len(want) == 0 {
		t.Fatal("processor eval found no alerts in the good events: nothing to compare")
	}
	raw, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	good := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	var template []byte
	for _, line := range good {
		if bytes.Contains(line, []byte(`"host":{`)) {
			template = line
			break
		}
	}
	catalogue := badCatalogue(t, template)

	// Interleave: the catalogue twice, spread over the stream, each bad
	// record keyed like the good event before it (so it shares a partition
	// with a live host).
	var out []*sent
	every := len(good) / (2*len(catalogue) + 1)
	next := 0
	for i, line := range good {
		key := []byte(hostOf(t, line))
		out = append(out, &sent{key: key, value: line})
		if (i+1)%every == 0 && next < 2*len(catalogue) {
			b := &catalogue[next%len(catalogue)]
			out = append(out, &sent{bad: b, key: key, value: b.value})
			next++
		}
	}
	if next != 2*len(catalogue) {
		t.Fatalf("placed %d of %d bad records", next, 2*len(catalogue))
	}
	e.createTopic(n.Input, partitions)
	e.produceRecords(n.Input, out)

	p := e.startProcessor("processor", e.runArgs(n, "it-dlq", append([]string{"--max-event-bytes", strconv.Itoa(maxEventBytes)}, faultArgs...)...)...)
	e.waitCaughtUp(n, 3*time.Minute, p)

	// Dead letters: each bad record exactly once, with its reason, source
	// and bytes; nothing else.
	type src struct {
		partition int32
		offset    int64
	}
	expect := map[src]*sent{}
	wantByReason := map[string]int{}
	for _, s := range out {
		if s.bad != nil {
			expect[src{s.partition, s.offset}] = s
			wantByReason[s.bad.reason]++
		}
	}
	dlq := e.readCommitted(n.DLQ, time.Minute)
	seen := map[src]int{}
	for _, r := range dlq {
		reason, _ := header(r, "eqlstream.error.reason")
		msg, _ := header(r, "eqlstream.error.message")
		topic, _ := header(r, "eqlstream.source.topic")
		ps, _ := header(r, "eqlstream.source.partition")
		offs, _ := header(r, "eqlstream.source.offset")
		part, err1 := strconv.ParseInt(ps, 10, 32)
		off, err2 := strconv.ParseInt(offs, 10, 64)
		if topic != n.Input || err1 != nil || err2 != nil {
			t.Errorf("dead letter %d@%d: source headers topic=%q partition=%q offset=%q do not name an input record", r.Partition, r.Offset, topic, ps, offs)
			continue
		}
		at := src{int32(part), off}
		seen[at]++
		s, ok := expect[at]
		if !ok {
			t.Errorf("unexpected dead letter for %s %d@%d: reason %s (%s): %.200q", topic, part, off, reason, msg, r.Value)
			continue
		}
		if seen[at] > 1 {
			t.Errorf("%q (input %d@%d) dead-lettered %d times", s.bad.name, part, off, seen[at])
		}
		if reason != s.bad.reason {
			t.Errorf("%q (input %d@%d): reason %q, want %q (message: %s)", s.bad.name, part, off, reason, s.bad.reason, msg)
		}
		if msg == "" {
			t.Errorf("%q (input %d@%d): no eqlstream.error.message header", s.bad.name, part, off)
		}
		if !bytes.Equal(r.Value, s.value) || !bytes.Equal(r.Key, s.key) {
			t.Errorf("%q (input %d@%d): the dead letter's key or value differ from the original (value %d bytes, want %d)", s.bad.name, part, off, len(r.Value), len(s.value))
		}
	}
	for at, s := range expect {
		if seen[at] == 0 {
			t.Errorf("%q (input %d@%d, want reason %s) is not on the dead-letter topic", s.bad.name, at.partition, at.offset, s.bad.reason)
		}
	}
	t.Logf("dead letters: %d read_committed, %d bad records produced (%d distinct kinds)", len(dlq), len(expect), len(catalogue))

	// The processor's dead-letter counters (updated on commit) agree.
	m, err := p.scrape(p.metricsAddr(10 * time.Second))
	if err != nil {
		t.Fatalf("scraping metrics: %v", err)
	}
	gotByReason := metricByLabel(m, "eqlstream_dead_letters_total", "reason")
	for reason, n := range wantByReason {
		if gotByReason[reason] != float64(n) {
			t.Errorf("eqlstream_dead_letters_total{reason=%q} = %v, want %d", reason, gotByReason[reason], n)
		}
	}

	// The good events: exactly eval's alerts, in eval's order per host.
	got := topicAlerts(t, e.readCommitted(n.Alerts, time.Minute))
	checkExactlyOnce(t, want, got)
	checkPerHostOrder(t, want, got)
	if code, took := p.terminate(sigtermBound); code != 0 {
		t.Errorf("processor exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
}

func hostOf(t testing.TB, event []byte) string {
	h, err := parseHead(event)
	if err != nil || h.HostID == "" {
		t.Fatalf("event without host.id (%v): %.200s", err, event)
	}
	return h.HostID
}

// produceRecords produces the records in order with franz-go's default
// (key-hash) partitioner, as `processor produce` does, and records where
// each landed.
func (e *env) produceRecords(topic string, out []*sent) {
	e.t.Helper()
	cl, err := kgo.NewClient(append(e.clientOpts(), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchMaxBytes(1<<20))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	for _, s := range out {
		s := s
		cl.Produce(ctx, &kgo.Record{Key: s.key, Value: s.value}, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			s.partition, s.offset, s.err = r.Partition, r.Offset, err
		})
	}
	if err := cl.Flush(ctx); err != nil {
		e.t.Fatalf("producing to %s: %v", topic, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range out {
		if s.err != nil {
			name := "a good event"
			if s.bad != nil {
				name = s.bad.name
			}
			e.t.Fatalf("producing %s: %v", name, s.err)
		}
	}
}

// metricByLabel returns the samples of a metric family by one label's value.
func metricByLabel(exposition, name, label string) map[string]float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\{[^}]*` + regexp.QuoteMeta(label) + `="([^"]*)"[^}]*\} (\S+)$`)
	out := map[string]float64{}
	for _, m := range re.FindAllStringSubmatch(exposition, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			out[m[1]] += v
		}
	}
	return out
}

// metricValue returns the value of an unlabelled sample (NaN when absent).
func metricValue(exposition, name string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`)
	if m := re.FindStringSubmatch(exposition); m != nil {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil {
			return v
		}
	}
	return math.NaN()
}
