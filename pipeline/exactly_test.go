package pipeline

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/partition"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/sinks"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fast exactly-once tests on kfake (the proof on real Kafka is in
// integration/ and the chaos test): the transaction, abort and rollback,
// and restore logic of the pipeline, caught in seconds.

// failEveryNthProduce makes the broker answer NOT_ENOUGH_REPLICAS to every
// nth produce request, at most max times: transactions abort in the middle
// of the stream and their records are processed again.
func failEveryNthProduce(c interface {
	ControlKey(int16, func(kmsg.Request) (kmsg.Response, error, bool))
	KeepControl()
}, n, max int32) *atomic.Int32 {
	var seen, failed atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		if failed.Load() >= max || seen.Add(1)%n != 0 {
			return nil, nil, false
		}
		failed.Add(1)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		resp.Version = pr.Version
		for _, tp := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
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
	return &failed
}

// readTopic reads a whole topic with read_committed.
func readTopic(t *testing.T, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n == 0 {
			return out
		}
	}
}

// offlineIDs evaluates each input partition in offset order, as the
// pipeline does with the idle flush off (no final flush), and returns the
// alert IDs.
func offlineIDs(t *testing.T, set *rules.RuleSet, in []*kgo.Record) []string {
	t.Helper()
	byPart := map[int32][]*kgo.Record{}
	for _, r := range in {
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	var ids []string
	for part, recs := range byPart {
		sort.Slice(recs, func(i, j int) bool { return recs[i].Offset < recs[j].Offset })
		proc := partition.New(partition.TP{Topic: "in", Partition: part}, set, 0)
		bodies := map[uint64][]byte{}
		for _, r := range recs {
			bodies[uint64(r.Offset)] = r.Value
			ms, _, err := proc.Engine.Process(r.Value, uint64(r.Offset))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				_, id, err := set.Alert(m, func(ref uint64) ([]byte, bool) { b, ok := bodies[ref]; return b, ok }, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	return ids
}

func alertIDs(recs []*kgo.Record) []string {
	var ids []string
	for _, r := range recs {
		for _, h := range r.Headers {
			if h.Key == sinks.HeaderAlertID {
				ids = append(ids, string(h.Value))
			}
		}
	}
	sort.Strings(ids)
	return ids
}

// runUntil runs a pipeline until the group has committed `until` offsets,
// then stops it cleanly.
func runUntil(t *testing.T, cfg Config, set *rules.RuleSet, until int64) *Metrics {
	t.Helper()
	m := NewMetrics(nil)
	p, err := New(cfg, set, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(90 * time.Second)
	for committed(t, cfg.Brokers, cfg.Group) < until {
		select {
		case err := <-done:
			t.Fatalf("%s stopped: %v", cfg.InstanceID, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d offsets committed after 90s", cfg.InstanceID, committed(t, cfg.Brokers, cfg.Group), until)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("%s: Run: %v", cfg.InstanceID, err)
	}
	return m
}

// TestAbortsAndRestartKeepAlertsExact: aborted transactions in the middle
// of the stream roll the engines back (their records are processed again),
// and a second instance restores the first one's state from the state topic
// and goes on; the alerts committed to the topic are exactly those of an
// offline evaluation of each partition, each once.
func TestAbortsAndRestartKeepAlertsExact(t *testing.T) {
	const events = 6000
	c, cfg, set := kfakeEnv(t, events)
	cfg.MaxBatchRecords = 200 // many small transactions: aborts hit partial state
	failed := failEveryNthProduce(c, 7, 12)
	m1 := runUntil(t, cfg, set, events/2)
	cfg2 := cfg
	cfg2.InstanceID = "i2"
	m2 := runUntil(t, cfg2, set, events)
	aborts := value(m1.TxnAborts.WithLabelValues(causeProduce)) + value(m2.TxnAborts.WithLabelValues(causeProduce))
	restores := value(m2.Restores)
	if failed.Load() == 0 || aborts == 0 {
		t.Fatalf("no aborts happened (%d failed produce requests): the test proves nothing", failed.Load())
	}
	if restores == 0 {
		t.Fatal("the second instance restored no partition")
	}
	want := offlineIDs(t, set, readTopic(t, cfg.Brokers, "in"))
	got := alertIDs(readTopic(t, cfg.Brokers, cfg.AlertsTopic))
	if len(want) == 0 {
		t.Fatal("no alerts expected: the test proves nothing")
	}
	t.Logf("%d failed produce requests, %.0f aborts, %.0f partitions restored; %d alerts expected, %d committed",
		failed.Load(), aborts, restores, len(want), len(got))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("alerts on the topic differ from the offline evaluation:\ncommitted %v\nexpected  %v", got, want)
	}
}
