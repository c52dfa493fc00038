package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// genEvents writes `processor gen ARGS` to a file in dir, appends the
// trailer when asked to, and returns the file's path and its number of lines.
func genEvents(t testing.TB, dir, name string, trailer bool, args ...string) (string, int) {
	t.Helper()
	path := filepath.Join(dir, name)
	runTool(t, 2*time.Minute, append([]string{"gen", "--output", path}, args...)...)
	if trailer {
		return path, appendTrailer(t, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, bytes.Count(b, []byte("\n"))
}

// eventHead is what the tests read from an event: @timestamp and host.id
// and host.name, nested ("host":{"id":…}), dotted ("host.id":…) or mixed, as
// the generator writes them.
type eventHead struct {
	Timestamp, HostID, HostName string
}

func parseHead(event []byte) (eventHead, error) {
	var doc map[string]any
	if err := json.Unmarshal(event, &doc); err != nil {
		return eventHead{}, err
	}
	str := func(path string) string {
		v, _ := lookupField(doc, path).(string)
		return v
	}
	return eventHead{Timestamp: str("@timestamp"), HostID: str("host.id"), HostName: str("host.name")}, nil
}

// lookupField finds a dotted field in nested objects, dotted keys or a mix.
func lookupField(doc map[string]any, path string) any {
	if v, ok := doc[path]; ok {
		return v
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '.' {
			continue
		}
		if sub, ok := doc[path[:i]].(map[string]any); ok {
			if v := lookupField(sub, path[i+1:]); v != nil {
				return v
			}
		}
	}
	return nil
}

// appendTrailer appends one heartbeat event per host, a minute of event time
// after the newest event, and returns the file's number of lines.
//
// The processor decides a sequence once the event-time watermark (newest
// timestamp minus --allowed-disorder) of its partition passes the sequence's
// events, or when the partition has been quiet for --idle-flush (wall-clock
// time); `processor eval` decides the rest at the end of its input. The
// trailer moves every partition's watermark past every generated event, so
// the online and offline evaluations decide the same sequences without
// depending on wall-clock time: the fault tests use it and turn the idle
// flush off. It matches no rule (event.category "host").
func appendTrailer(t testing.TB, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []eventHead
	seen := map[string]bool{}
	var newest time.Time
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		lines++
		h, err := parseHead(sc.Bytes())
		if err != nil {
			t.Fatalf("%s:%d: %v", path, lines, err)
		}
		ts, err := time.Parse(time.RFC3339Nano, h.Timestamp)
		if err != nil {
			t.Fatalf("%s:%d: @timestamp: %v", path, lines, err)
		}
		if ts.After(newest) {
			newest = ts
		}
		if h.HostID != "" && !seen[h.HostID] {
			seen[h.HostID] = true
			hosts = append(hosts, h)
		}
	}
	f.Close()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ts := newest.Add(time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	w := bufio.NewWriter(out)
	for _, h := range hosts {
		ev := map[string]any{
			"@timestamp": ts,
			"event":      map[string]any{"kind": "event", "category": []string{"host"}, "type": []string{"info"}, "action": "heartbeat"},
			"host":       map[string]any{"id": h.HostID, "name": h.HostName, "os": map[string]any{"type": "linux"}},
			"message":    "integration test trailer: advances the event-time watermark past every generated event",
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		w.WriteByte('\n')
		lines++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// alert is one alert: from `processor eval`, or read from the alerts topic
// (then with its partition, offset and key).
type alert struct {
	ID     string
	RuleID string
	Host   string
	Time   string // @timestamp of the alert (its last event)

	Partition int32
	Offset    int64
	Key       string
}

func (a alert) String() string {
	s := fmt.Sprintf("%s rule=%s host=%s @timestamp=%s", a.ID, a.RuleID, a.Host, a.Time)
	if a.Key != "" || a.Offset > 0 {
		s += fmt.Sprintf(" at %d@%d", a.Partition, a.Offset)
	}
	return s
}

func parseAlert(doc []byte) (alert, error) {
	var d struct {
		ID     string `json:"kibana.alert.uuid"`
		RuleID string `json:"kibana.alert.rule.rule_id"`
		Time   string `json:"@timestamp"`
		Host   struct {
			ID string `json:"id"`
		} `json:"host"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return alert{}, err
	}
	if d.ID == "" {
		return alert{}, fmt.Errorf("alert without kibana.alert.uuid: %.200s", doc)
	}
	return alert{ID: d.ID, RuleID: d.RuleID, Host: d.Host.ID, Time: d.Time}, nil
}

// evalAlerts runs `processor eval` on path (with extra flags, e.g. rules)
// and returns its alerts in order.
func evalAlerts(t testing.TB, path string, extra ...string) []alert {
	t.Helper()
	out := runTool(t, 5*time.Minute, append(append([]string{"eval", "--quiet"}, extra...), path)...)
	var as []alert
	for i, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		a, err := parseAlert(line)
		if err != nil {
			t.Fatalf("eval output line %d: %v", i+1, err)
		}
		as = append(as, a)
	}
	return as
}

// topicAlerts parses alert records; each must carry the alert ID header equal
// to the document's kibana.alert.uuid.
func topicAlerts(t testing.TB, recs []*kgo.Record) []alert {
	t.Helper()
	out := make([]alert, 0, len(recs))
	for _, r := range recs {
		a, err := parseAlert(r.Value)
		if err != nil {
			t.Fatalf("alerts record %d@%d: %v", r.Partition, r.Offset, err)
		}
		if h, _ := header(r, "eqlstream.alert_id"); h != a.ID {
			t.Errorf("alerts record %d@%d: header eqlstream.alert_id %q != kibana.alert.uuid %q", r.Partition, r.Offset, h, a.ID)
		}
		a.Partition, a.Offset, a.Key = r.Partition, r.Offset, string(r.Key)
		out = append(out, a)
	}
	return out
}

// checkExactlyOnce asserts that got holds exactly the alert IDs of want, as
// multisets: nothing missing, nothing duplicated, nothing unexpected.
func checkExactlyOnce(t testing.TB, want, got []alert) {
	t.Helper()
	wantN := map[string]int{}
	wantBy := map[string]alert{}
	for _, a := range want {
		wantN[a.ID]++
		wantBy[a.ID] = a
	}
	gotN := map[string]int{}
	gotBy := map[string][]alert{}
	for _, a := range got {
		gotN[a.ID]++
		gotBy[a.ID] = append(gotBy[a.ID], a)
	}
	var missing, dup, unexpected []string
	for id, n := range wantN {
		switch g := gotN[id]; {
		case g < n:
			missing = append(missing, fmt.Sprintf("%s (eval %d, topic %d)", wantBy[id], n, g))
		case g > n:
			var at []string
			for _, a := range gotBy[id] {
				at = append(at, fmt.Sprintf("%d@%d", a.Partition, a.Offset))
			}
			dup = append(dup, fmt.Sprintf("%s (eval %d, topic %d at %s)", wantBy[id], n, g, strings.Join(at, ",")))
		}
	}
	for id, as := range gotBy {
		if wantN[id] == 0 {
			unexpected = append(unexpected, fmt.Sprintf("%s (%d times)", as[0], len(as)))
		}
	}
	t.Logf("alerts: eval %d, topic %d (read_committed): %d missing, %d duplicated, %d unexpected",
		len(want), len(got), len(missing), len(dup), len(unexpected))
	if len(missing)+len(dup)+len(unexpected) == 0 {
		return
	}
	t.Errorf("alerts topic differs from processor eval: %d missing, %d duplicated, %d unexpected%s%s%s",
		len(missing), len(dup), len(unexpected), list("missing", missing), list("duplicated", dup), list("unexpected", unexpected))
}

func list(what string, items []string) string {
	if len(items) == 0 {
		return ""
	}
	sort.Strings(items)
	const show = 20
	var b strings.Builder
	fmt.Fprintf(&b, "\n  %s:", what)
	for i, s := range items {
		if i == show {
			fmt.Fprintf(&b, "\n    ... and %d more", len(items)-show)
			break
		}
		b.WriteString("\n    " + s)
	}
	return b.String()
}

// checkPerHostOrder asserts that alerts are keyed by their host.id, that a
// host's alerts are all in one partition, and that per host they come in
// the order eval gives them.
func checkPerHostOrder(t testing.TB, want, got []alert) {
	t.Helper()
	wantBy := map[string][]alert{}
	for _, a := range want {
		wantBy[a.Host] = append(wantBy[a.Host], a)
	}
	gotBy := map[string][]alert{}
	part := map[string]int32{}
	bad := 0
	for _, a := range got {
		if a.Key != a.Host {
			if bad++; bad <= 5 {
				t.Errorf("alert %s: record key %q is not its host.id %q", a, a.Key, a.Host)
			}
		}
		if p, ok := part[a.Host]; ok && p != a.Partition {
			if bad++; bad <= 5 {
				t.Errorf("host %s has alerts in partitions %d and %d", a.Host, p, a.Partition)
			}
		}
		part[a.Host] = a.Partition
		gotBy[a.Host] = append(gotBy[a.Host], a)
	}
	hosts := make([]string, 0, len(wantBy))
	for h := range wantBy {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	diverged := 0
	for _, h := range hosts {
		w, g := wantBy[h], gotBy[h]
		for i := 0; i < min(len(w), len(g)); i++ {
			if w[i].ID != g[i].ID {
				diverged++
				if diverged <= 5 {
					t.Errorf("host %s: alert #%d differs: eval has %s, topic has %s\n  eval order:  %s\n  topic order: %s",
						h, i, w[i], g[i], ids(w), ids(g))
				}
				break
			}
		}
	}
	if diverged == 0 {
		t.Logf("per-host order: the alerts of %d hosts come in eval's order", len(hosts))
	} else {
		t.Errorf("per-host order differs from eval for %d of %d hosts", diverged, len(hosts))
	}
}

func ids(as []alert) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.RuleID + ":" + a.ID[:6])
	}
	return b.String()
}

// produceFile publishes path with `processor produce` (keyed by host.id).
func (e *env) produceFile(path, topic string) {
	e.t.Helper()
	runTool(e.t, 5*time.Minute, "produce", "--brokers", e.brokerList(), "--topic", topic, path)
}

// splitFile writes lines [from, to) of path to a new file and returns it.
func splitFile(t testing.TB, path string, from, to int) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if to > len(lines) {
		to = len(lines)
	}
	out := path + "." + strconv.Itoa(from) + "-" + strconv.Itoa(to)
	if err := os.WriteFile(out, bytes.Join(lines[from:to], nil), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// pacedProducer publishes lines [from, total) of a file in chunks with
// `processor produce`, pausing between chunks, so the processor works on a
// live stream. It runs in its own goroutine; wait returns its error.
type pacedProducer struct {
	done chan struct{}
	err  error // written before done is closed
}

func (e *env) producePaced(path, topic string, from, total, chunks int, pause time.Duration) *pacedProducer {
	e.t.Helper()
	var files []string
	size := (total - from + chunks - 1) / chunks
	for start := from; start < total; start += size {
		files = append(files, splitFile(e.t, path, start, min(start+size, total)))
	}
	pp := &pacedProducer{done: make(chan struct{})}
	brokers := e.brokerList()
	go func() {
		defer close(pp.done)
		for i, f := range files {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			// the input producer of fault tests outlives a broker that is
			// down or restarting (produce gives up after --connect-timeout)
			out, err := execTool(ctx, "produce", "--brokers", brokers, "--topic", topic, "--connect-timeout", "90s", f)
			cancel()
			if err != nil {
				pp.err = fmt.Errorf("producing %s: %w\n%s", f, err, out)
				return
			}
			if i < len(files)-1 {
				time.Sleep(pause)
			}
		}
	}()
	e.t.Cleanup(func() { <-pp.done })
	return pp
}

func (pp *pacedProducer) finished() bool {
	select {
	case <-pp.done:
		return true
	default:
		return false
	}
}

func (pp *pacedProducer) wait(t testing.TB) {
	t.Helper()
	<-pp.done
	if pp.err != nil {
		t.Fatal(pp.err)
	}
}

// cutAfterLastSequence evaluates path and writes a copy that ends with the
// event completing eval's last sequence alert; it returns the copy, its
// number of lines and that alert.
func cutAfterLastSequence(t testing.TB, path string) (string, int, alert) {
	t.Helper()
	out := runTool(t, 5*time.Minute, "eval", "--quiet", path)
	var last []byte
	var lastAlert alert
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var d struct {
			Stream struct {
				Kind string `json:"kind"`
			} `json:"eqlstream"`
			Events []json.RawMessage `json:"events"`
		}
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatalf("eval output: %v", err)
		}
		if d.Stream.Kind == "sequence" && len(d.Events) > 0 {
			last = d.Events[len(d.Events)-1]
			a, err := parseAlert(line)
			if err != nil {
				t.Fatal(err)
			}
			lastAlert = a
		}
	}
	if last == nil {
		t.Fatalf("eval of %s found no sequence alert", path)
	}
	lines := readLines(t, path)
	for i, line := range lines {
		var c bytes.Buffer
		if json.Compact(&c, line) == nil && bytes.Equal(c.Bytes(), last) {
			cut := path + ".cut"
			if err := os.WriteFile(cut, append(bytes.Join(lines[:i+1], []byte("\n")), '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			return cut, i + 1, lastAlert
		}
	}
	t.Fatalf("the last event of sequence alert %s is not a line of %s", lastAlert, path)
	return "", 0, alert{}
}
