package integration

// The Elasticsearch sink against a real Elasticsearch (ES_URL, e.g. from
// deployments/elasticsearch/es-local.sh up) and a real Kafka: events → run
// (--alert-format elastic) → alerts topic → processor sink elasticsearch →
// the index, compared with processor eval; a kill -9 of the sink mid-stream;
// a mapping conflict to the dead-letter topic.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kgo"
)

// esURL is ES_URL; without it the test is skipped, or fails under CI=true.
func esURL(t testing.TB) string {
	t.Helper()
	if v := strings.TrimRight(strings.TrimSpace(os.Getenv("ES_URL")), "/"); v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("ES_URL is required under CI (deployments/elasticsearch/es-local.sh up)")
	}
	t.Skip("ES_URL is unset: start Elasticsearch with deployments/elasticsearch/es-local.sh up and run with ES_URL=$(deployments/elasticsearch/es-local.sh url)")
	return ""
}

// esDo sends one request and decodes the JSON answer into out (if not nil).
func esDo(t testing.TB, method, url string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: HTTP %d, not JSON: %.300s", method, url, res.StatusCode, raw)
		}
	}
	return res.StatusCode
}

// esIndexed refreshes index and returns every document: _id → _source, and
// how many documents carry each kibana.alert.uuid, and each _version.
func esIndexed(t testing.TB, base, index string) (docs map[string]json.RawMessage, perUUID map[string]int, versions map[string]int) {
	t.Helper()
	esDo(t, "POST", base+"/"+index+"/_refresh", nil, nil)
	var res struct {
		Hits struct {
			Hits []struct {
				ID      string          `json:"_id"`
				Version int             `json:"_version"`
				Source  json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	q := []byte(`{"size":10000,"version":true,"query":{"match_all":{}}}`)
	if code := esDo(t, "POST", base+"/"+index+"/_search", q, &res); code != 200 {
		t.Fatalf("search %s: HTTP %d", index, code)
	}
	docs, perUUID, versions = map[string]json.RawMessage{}, map[string]int{}, map[string]int{}
	for _, h := range res.Hits.Hits {
		docs[h.ID] = h.Source
		versions[h.ID] = h.Version
		var d struct {
			UUID string `json:"kibana.alert.uuid"`
		}
		_ = json.Unmarshal(h.Source, &d)
		perUUID[d.UUID]++
	}
	return docs, perUUID, versions
}

// esCleanup deletes the test's index and template when the test passes.
func esCleanup(t testing.TB, base, index string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("index %s kept for inspection", index)
			return
		}
		esDo(t, "DELETE", base+"/"+index, nil, nil)
		esDo(t, "DELETE", base+"/_index_template/"+index, nil, nil)
	})
}

// evalElastic runs processor eval --alert-format elastic: the documents by ID.
func evalElastic(t testing.TB, path string) (map[string][]byte, []string) {
	t.Helper()
	out := runTool(t, 5*time.Minute, "eval", "--quiet", "--alert-format", "elastic", path)
	docs := map[string][]byte{}
	var order []string
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var d struct {
			UUID string `json:"kibana.alert.uuid"`
		}
		if err := json.Unmarshal(line, &d); err != nil || d.UUID == "" {
			t.Fatalf("eval line without kibana.alert.uuid: %.200s", line)
		}
		if _, dup := docs[d.UUID]; dup {
			t.Fatalf("eval wrote alert %s twice", d.UUID)
		}
		docs[d.UUID] = line
		order = append(order, d.UUID)
	}
	return docs, order
}

func (e *env) sinkArgs(n names, es, index string, extra ...string) []string {
	return append([]string{"sink", "elasticsearch", "--brokers", e.brokerList(), "--alerts-topic", n.Alerts,
		"--group", n.Group + "-es", "--dlq-topic", n.DLQ + "-es", "--es-url", es, "--index", index,
		"--template-name", index, "--metrics-addr", "127.0.0.1:0", "--max-backoff", "1s", "--create-topics"}, extra...)
}

// runToAlerts produces events, runs the processor in Elastic format until
// every alert is committed, and stops it.
func (e *env) runToAlerts(n names, events string) {
	e.t.Helper()
	e.createTopic(n.Input, partitions)
	e.produceFile(events, n.Input)
	p := e.startProcessor("processor", e.runArgs(n, "it-es", "--alert-format", "elastic", "--idle-flush", "1s")...)
	e.waitCaughtUp(n, 3*time.Minute, p)
	e.waitQuiet(3*time.Second, time.Minute, p, n.Alerts, n.State)
	if code, _ := p.terminate(time.Minute); code != 0 {
		e.t.Fatalf("processor exited %d", code)
	}
}

// waitIndexed waits until the sink's indexed_total reaches want.
func waitIndexed(t testing.TB, p *proc, want int, timeout time.Duration) float64 {
	t.Helper()
	addr := p.metricsAddr(30 * time.Second)
	deadline := time.Now().Add(timeout)
	var got float64
	for time.Now().Before(deadline) {
		p.requireRunning()
		if m, err := p.scrape(addr); err == nil {
			if got = metricValue(m, "eqlstream_es_sink_indexed_total"); got >= float64(want) {
				return got
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("sink indexed %v of %d documents in %s; log:\n%s", got, want, timeout, tail(p.logPath, 30))
	return got
}

func TestElasticSinkMatchesEval(t *testing.T) {
	es := esURL(t)
	e := newEnv(t)
	n := e.names
	events, _ := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("303", 20000)...)
	want, order := evalElastic(t, events)
	kinds := map[string]int{}
	for _, d := range want {
		switch {
		case bytes.Contains(d, []byte(`"kibana.alert.depth":2`)):
			kinds["shell"]++
		case bytes.Contains(d, []byte(`"kibana.alert.group.id"`)):
			kinds["building_block"]++
		default:
			kinds["event"]++
		}
	}
	if kinds["shell"] == 0 || kinds["building_block"] == 0 || kinds["event"] == 0 {
		t.Fatalf("eval documents by kind %v: need each kind", kinds)
	}
	e.runToAlerts(n, events)
	index := n.Group + "-alerts"
	esCleanup(t, es, index)
	s := e.startProcessor("sink", e.sinkArgs(n, es, index)...)
	waitIndexed(t, s, len(want), 2*time.Minute)
	got, perUUID, _ := esIndexed(t, es, index)
	if len(got) != len(want) {
		t.Errorf("indexed %d documents, eval wrote %d", len(got), len(want))
	}
	for _, id := range order {
		src, ok := got[id]
		if !ok {
			t.Errorf("alert %s of eval is not indexed", id)
			continue
		}
		var a, b any
		_ = json.Unmarshal(src, &a)
		_ = json.Unmarshal(want[id], &b)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("alert %s: indexed document differs from eval's\n es: %.300s\neval: %.300s", id, src, want[id])
		}
	}
	for u, c := range perUUID {
		if c != 1 {
			t.Errorf("kibana.alert.uuid %s on %d documents", u, c)
		}
	}
	// the template's mappings are in force
	var mp map[string]struct {
		Mappings struct {
			Dynamic any `json:"dynamic"`
		} `json:"mappings"`
	}
	esDo(t, "GET", es+"/"+index+"/_mapping", nil, &mp)
	if d := fmt.Sprint(mp[index].Mappings.Dynamic); d != "false" {
		t.Errorf("index mappings dynamic = %s, want false (the template's)", d)
	}
	if code, _ := s.terminate(time.Minute); code != 0 {
		t.Errorf("sink exited %d on SIGTERM", code)
	}
	t.Logf("eval %d documents (%v); indexed %d with _id = alert ID, identical to eval's", len(want), kinds, len(got))
}

func TestElasticSinkKill9NoDuplicatesNoGap(t *testing.T) {
	es := esURL(t)
	e := newEnv(t)
	n := e.names
	events, _ := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("404", 20000)...)
	want, _ := evalElastic(t, events)
	if len(want) < 60 {
		t.Fatalf("eval wrote %d documents: too few to kill the sink mid-stream", len(want))
	}
	e.runToAlerts(n, events)
	index := n.Group + "-alerts"
	esCleanup(t, es, index)
	// small batches so that the kill lands between a bulk and its commit
	s1 := e.startProcessor("sink-1", e.sinkArgs(n, es, index, "--batch-records", "3")...)
	before := waitIndexed(t, s1, len(want)/3, 2*time.Minute)
	s1.kill9()
	s2 := e.startProcessor("sink-2", e.sinkArgs(n, es, index, "--batch-records", "3")...)
	after := waitIndexed(t, s2, 1, 2*time.Minute)
	// the restarted sink must index at least what the first one had not
	deadline := time.Now().Add(2 * time.Minute)
	var got map[string]json.RawMessage
	var perUUID, versions map[string]int
	for {
		got, perUUID, versions = esIndexed(t, es, index)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = after
	missing, unexpected, dups, overwritten := 0, 0, 0, 0
	for id := range want {
		if _, ok := got[id]; !ok {
			missing++
		}
	}
	for id, v := range versions {
		if _, ok := want[id]; !ok {
			unexpected++
		}
		if v > 1 {
			overwritten++
		}
	}
	for _, c := range perUUID {
		dups += c - 1
	}
	m, _ := s2.scrape(s2.metricsAddr(10 * time.Second))
	second := metricValue(m, "eqlstream_es_sink_indexed_total")
	t.Logf("crash test: expected=%d indexed=%d missing=%d unexpected=%d duplicates=%d; first sink indexed %v before kill -9, second %v (%d documents overwritten by the replay, _version > 1)",
		len(want), len(got), missing, unexpected, dups, before, second, overwritten)
	if missing != 0 || unexpected != 0 || dups != 0 || len(got) != len(want) {
		t.Errorf("after kill -9 and restart: expected %d, indexed %d, missing %d, unexpected %d, duplicates %d", len(want), len(got), missing, unexpected, dups)
	}
	if before >= float64(len(want)) {
		t.Errorf("the first sink indexed everything (%v) before the kill: the test proved nothing", before)
	}
	if second+before < float64(len(want)) {
		t.Errorf("indexed_total %v + %v < %d", before, second, len(want))
	}
	s2.terminate(time.Minute)
	// a full replay (a new group reads the topic from the start) overwrites
	// every document: still one per alert, each now at _version >= 2
	s3 := e.startProcessor("sink-replay", append(e.sinkArgs(n, es, index), "--group", n.Group+"-es-replay")...)
	waitIndexed(t, s3, len(want), 2*time.Minute)
	got, perUUID, versions = esIndexed(t, es, index)
	replayed := 0
	for _, v := range versions {
		if v >= 2 {
			replayed++
		}
	}
	dups = 0
	for _, c := range perUUID {
		dups += c - 1
	}
	t.Logf("full replay: indexed=%d expected=%d duplicates=%d overwritten=%d", len(got), len(want), dups, replayed)
	if len(got) != len(want) || dups != 0 || replayed != len(want) {
		t.Errorf("after a full replay: %d documents (want %d), %d duplicates, %d at _version >= 2", len(got), len(want), dups, replayed)
	}
	s3.terminate(time.Minute)
}

func TestElasticSinkMappingConflictToDLQ(t *testing.T) {
	es := esURL(t)
	e := newEnv(t)
	n := e.names
	events, _ := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("505", 5000)...)
	want, order := evalElastic(t, events)
	good := want[order[0]]
	bad := bytes.Replace(good, []byte(`"kibana.alert.depth":1`), []byte(`"kibana.alert.depth":"deep"`), 1)
	if bytes.Equal(bad, good) {
		t.Fatalf("no depth 1 in %.200s", good)
	}
	e.createTopic(n.Alerts, 1)
	index := n.Group + "-alerts"
	esCleanup(t, es, index)
	recs := []*kgo.Record{
		{Topic: n.Alerts, Value: good, Headers: []kgo.RecordHeader{{Key: "eqlstream.alert_id", Value: []byte(order[0])}}},
		{Topic: n.Alerts, Value: bad, Headers: []kgo.RecordHeader{{Key: "eqlstream.alert_id", Value: []byte("conflict-1")}}},
		{Topic: n.Alerts, Value: []byte("not json"), Headers: []kgo.RecordHeader{{Key: "eqlstream.alert_id", Value: []byte("garbage-1")}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	s := e.startProcessor("sink", e.sinkArgs(n, es, index)...)
	waitIndexed(t, s, 1, time.Minute)
	dlq := e.readCommittedN(n.DLQ+"-es", 2, time.Minute)
	reasons := map[string]string{}
	for _, r := range dlq {
		reason, _ := header(r, "eqlstream.error.reason")
		msg, _ := header(r, "eqlstream.error.message")
		off, _ := header(r, "eqlstream.source.offset")
		reasons[off] = reason + " | " + msg
	}
	if r := reasons["1"]; !strings.HasPrefix(r, "es_rejected | ") || !strings.Contains(r, "kibana.alert.depth") {
		t.Errorf("the mapping conflict (offset 1): dead letter %q, want es_rejected naming kibana.alert.depth", r)
	}
	if r := reasons["2"]; !strings.HasPrefix(r, "es_not_json") {
		t.Errorf("the non-JSON record (offset 2): dead letter %q", r)
	}
	got, _, _ := esIndexed(t, es, index)
	if _, ok := got[order[0]]; !ok || len(got) != 1 {
		t.Errorf("indexed %v, want only %s", keysOf(got), order[0])
	}
	m, _ := s.scrape(s.metricsAddr(10 * time.Second))
	if v := metricByLabel(m, "eqlstream_es_sink_dead_letters_total", "reason")["es_rejected"]; v != 1 {
		t.Errorf("dead_letters_total{reason=es_rejected} = %v", v)
	}
	t.Logf("dead letters: %v", reasons)
	s.terminate(time.Minute)
}

func keysOf(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// readCommittedN reads topic from the start until n records (or timeout).
func (e *env) readCommittedN(topic string, n int, timeout time.Duration) []*kgo.Record {
	e.t.Helper()
	cl, err := kgo.NewClient(append(e.clientOpts(), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("%s: %d of %d records in %s", topic, len(out), n, timeout)
		}
		out = append(out, fs.Records()...)
	}
	return out
}
