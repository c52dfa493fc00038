package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kfakeEnv is an in-process cluster with an input topic holding generated
// events.
func kfakeEnv(t *testing.T, events int) (*kfake.Cluster, Config, *rules.RuleSet) {
	t.Helper()
	const parts = 3
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "in"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	g, err := gen.New(gen.Config{Seed: 3, Events: events, Hosts: 12, AttackRate: 0.02, LookalikeRate: 0.03,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var buf []byte
	for {
		var host string
		var ok bool
		buf, host, ok = g.Next(buf[:0])
		if !ok {
			break
		}
		prod.Produce(context.Background(), &kgo.Record{Key: []byte(host), Value: append([]byte(nil), buf...)}, nil)
	}
	if err := prod.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(rules.Builtin(), engine.Options{RequiredFields: []string{"host.id"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Brokers: c.ListenAddrs(), InputTopics: []string{"in"}, AlertsTopic: "alerts", DLQTopic: "dlq",
		Group: "g", InstanceID: "i1", CreateTopics: true, Partitions: parts, ReplicationFactor: 1,
		TransactionTimeout: 2 * time.Second, IdleFlush: -1, BrokerBound: 2 * time.Second}
	return c, cfg, set
}

// committed returns the group's committed offsets summed over partitions.
func committed(t *testing.T, brokers []string, group string) int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	o, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return -1
	}
	var n int64
	o.Each(func(r kadm.OffsetResponse) { n += r.At })
	return n
}

// TestHealableProduceErrorsRetryWhileNotReady: the broker answers
// NOT_ENOUGH_REPLICAS to the pipeline's first produce requests; the pipeline aborts
// (cause produce_error), is not ready while it retries with backoff, then
// commits everything; each input offset counts once in events_in_total and
// the replays in events_replayed_total.
func TestHealableProduceErrorsRetryWhileNotReady(t *testing.T) {
	const events = 3000
	c, cfg, set := kfakeEnv(t, events)
	var failed atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr := req.(*kmsg.ProduceRequest)
		if failed.Load() >= 8 {
			c.KeepControl()
			return nil, nil, false
		}
		failed.Add(1)
		c.KeepControl()
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		resp.Version = pr.Version
		for _, tp := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = tp.Topic
			rt.TopicID = tp.TopicID
			for _, p := range tp.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.NotEnoughReplicas.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	var logBuf syncBuffer
	p, err := New(cfg, set, slog.New(slog.NewTextHandler(&logBuf, nil)), m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var mu sync.Mutex
	var notReady []string
	deadline := time.Now().Add(60 * time.Second)
	for committed(t, cfg.Brokers, cfg.Group) < events {
		if ok, why := p.Health().Ready(); !ok {
			mu.Lock()
			notReady = append(notReady, why)
			mu.Unlock()
		}
		select {
		case err := <-done:
			t.Fatalf("pipeline stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all %d events committed after 60s (%d)", events, committed(t, cfg.Brokers, cfg.Group))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	aborts := value(m.TxnAborts.WithLabelValues(causeProduce))
	in := value(m.EventsIn.WithLabelValues("in"))
	replayed := value(m.EventsReplayed.WithLabelValues("in"))
	t.Logf("%d failed produce requests, %.0f aborts, events_in %.0f, replayed %.0f", failed.Load(), aborts, in, replayed)
	if aborts < 1 {
		t.Errorf("no abort counted with cause %s", causeProduce)
	}
	if in != events {
		t.Errorf("events_in_total = %.0f, want %d: each offset once", in, events)
	}
	if replayed < 1 {
		t.Errorf("events_replayed_total = %.0f after %.0f aborts", replayed, aborts)
	}
	retrying := false
	for _, why := range notReady {
		if strings.Contains(why, `retrying: producing to "`) {
			retrying = true
		}
	}
	abortLine := ""
	for _, l := range strings.Split(logBuf.String(), "\n") {
		if strings.Contains(l, "transaction aborted") {
			abortLine = l
			break
		}
	}
	t.Logf("abort log line: %s", abortLine)
	if !strings.Contains(abortLine, "level=WARN") || !strings.Contains(abortLine, "cause=produce_error") || !strings.Contains(abortLine, `detail="producing to`) {
		t.Errorf("the abort is not logged at warn with its cause: %q", abortLine)
	}
	if !retrying {
		t.Errorf("never seen not ready while retrying; not-ready reasons seen: %q", uniq(notReady))
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
