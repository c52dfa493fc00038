package elasticsearch

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/sinks"
	json "github.com/goccy/go-json"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestAlertID(t *testing.T) {
	hdr := []kgo.RecordHeader{{Key: sinks.HeaderAlertID, Value: []byte("h1")}}
	for _, c := range []struct {
		name       string
		rec        *kgo.Record
		id, reason string
	}{
		{"header wins", &kgo.Record{Value: []byte(`{"kibana.alert.uuid":"u1"}`), Headers: hdr}, "h1", ""},
		{"uuid without header", &kgo.Record{Value: []byte(`{"kibana.alert.uuid":"u1"}`)}, "u1", ""},
		{"no id", &kgo.Record{Value: []byte(`{"a":1}`)}, "", ReasonNoID},
		{"not json", &kgo.Record{Value: []byte(`nope`), Headers: hdr}, "", ReasonNotJSON},
		{"array", &kgo.Record{Value: []byte(`[1]`), Headers: hdr}, "", ReasonNotJSON},
	} {
		id, reason, _ := alertID(c.rec)
		if id != c.id || reason != c.reason {
			t.Errorf("%s: id %q reason %q, want %q %q", c.name, id, reason, c.id, c.reason)
		}
	}
}

// fakeES answers _bulk with per-item statuses from status(id, attempt).
type fakeES struct {
	mu       sync.Mutex
	attempts map[string]int
	auth     []string
	status   func(id string, attempt int) int
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	if !strings.HasSuffix(r.URL.Path, "/_bulk") {
		w.Write([]byte(`{"status":"green"}`))
		return
	}
	body, _ := io.ReadAll(r.Body)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	var items []any
	for i := 0; i < len(lines); i += 2 {
		var meta struct {
			Index struct {
				ID string `json:"_id"`
			} `json:"index"`
		}
		json.Unmarshal([]byte(lines[i]), &meta)
		f.mu.Lock()
		f.attempts[meta.Index.ID]++
		st := f.status(meta.Index.ID, f.attempts[meta.Index.ID])
		f.mu.Unlock()
		it := map[string]any{"_id": meta.Index.ID, "status": st}
		if st >= 300 {
			it["error"] = map[string]any{"type": "document_parsing_exception", "reason": "failed to parse field [x]"}
		}
		items = append(items, map[string]any{"index": it})
	}
	b, _ := json.Marshal(map[string]any{"errors": true, "items": items})
	w.Write(b)
}

func newTestSink(t *testing.T, url string, es ESConfig) *Sink {
	t.Helper()
	es.URLs = []string{url}
	s, err := New(Config{AlertsTopic: "a", Group: "g", DLQTopic: "d", Index: "i", MaxBackoff: 20 * time.Millisecond, ES: es},
		slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(prometheus.NewRegistry()), kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cl.Close)
	return s
}

// TestBulkRetriesAndRejects: 429 and 503 are retried until accepted, 400
// goes to the dead letters with Elasticsearch's reason, 2xx is done.
func TestBulkRetriesAndRejects(t *testing.T) {
	f := &fakeES{attempts: map[string]int{}, status: func(id string, attempt int) int {
		switch id {
		case "busy":
			if attempt < 3 {
				return 429
			}
		case "down":
			if attempt < 2 {
				return 503
			}
		case "bad":
			return 400
		}
		return 201
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := newTestSink(t, srv.URL, ESConfig{})
	var ops []op
	for _, id := range []string{"ok", "busy", "down", "bad"} {
		ops = append(ops, op{id: id, rec: &kgo.Record{Topic: "a", Value: []byte(`{"kibana.alert.uuid":"` + id + `"}`)}})
	}
	pending := ops
	var dead []*kgo.Record
	for round := 0; len(pending) > 0; round++ {
		if round > 5 {
			t.Fatalf("still pending after %d rounds: %v", round, pending)
		}
		retry, rejected, err := s.bulk(context.Background(), pending)
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, rejected...)
		pending = retry
	}
	if f.attempts["busy"] != 3 || f.attempts["down"] != 2 || f.attempts["ok"] != 1 || f.attempts["bad"] != 1 {
		t.Errorf("attempts %v", f.attempts)
	}
	if len(dead) != 1 {
		t.Fatalf("%d dead letters", len(dead))
	}
	var reason, msg string
	for _, h := range dead[0].Headers {
		switch h.Key {
		case sinks.HeaderReason:
			reason = string(h.Value)
		case sinks.HeaderError:
			msg = string(h.Value)
		}
	}
	if reason != ReasonRejected || !strings.Contains(msg, "document_parsing_exception") || dead[0].Topic != "d" {
		t.Errorf("dead letter: topic %s reason %q msg %q", dead[0].Topic, reason, msg)
	}
}

// TestSecretsFromFiles: the API key and the password come from files and
// reach Elasticsearch as Authorization headers.
func TestSecretsFromFiles(t *testing.T) {
	f := &fakeES{attempts: map[string]int{}, status: func(string, int) int { return 201 }}
	srv := httptest.NewServer(f)
	defer srv.Close()
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(key, []byte("aWQ6c2VjcmV0\n"), 0o600)
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	for _, c := range []struct {
		es   ESConfig
		want string
	}{
		{ESConfig{APIKeyFile: key}, "APIKey aWQ6c2VjcmV0"},
		{ESConfig{Username: "elastic", PasswordFile: pw}, "Basic ZWxhc3RpYzpzM2NyZXQ="},
	} {
		s := newTestSink(t, srv.URL, c.es)
		if err := s.waitES(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		got := f.auth[len(f.auth)-1]
		f.mu.Unlock()
		if got != c.want {
			t.Errorf("Authorization %q, want %q", got, c.want)
		}
	}
	if _, err := (ESConfig{URLs: []string{srv.URL}, PasswordFile: pw}).client(); err == nil {
		t.Error("a password without --es-username was accepted")
	}
	if _, err := (ESConfig{URLs: []string{srv.URL}, APIKeyFile: filepath.Join(dir, "missing")}).client(); err == nil {
		t.Error("a missing API key file was accepted")
	}
}

// TestUnauthorizedStops: wrong credentials stop the sink with a message
// naming them, instead of retrying forever.
func TestUnauthorizedStops(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"unauthorized"}`))
	}))
	defer srv.Close()
	s := newTestSink(t, srv.URL, ESConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.waitES(ctx)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "--es-api-key-file") {
		t.Fatalf("err = %v", err)
	}
}
