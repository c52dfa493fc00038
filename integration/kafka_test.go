package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const partitions = 6

// kafkaBrokers applies the broker policy shared by every test (see
// internal/kafkatest): KAFKA_BROKERS when set; else a Kafka container started
// with testcontainers-go when a container engine answers; else, outside CI, a
// kafka-local.sh node. The cluster is started once, by the first test that
// needs it, and stopped by TestMain. Under CI=true, no cluster is a failure
// (never a skip); outside CI the only skip left is a machine with neither an
// engine nor java and mvn.
func kafkaBrokers(t testing.TB) []string {
	t.Helper()
	return kafkatest.Brokers(t)
}

// env is one test's view of the cluster: an admin client, the topics and
// group it owns, and the replication factor for the topics it creates.
type env struct {
	t       testing.TB
	brokers []string
	opts    []kgo.Opt // connection options (TLS, SASL) of every client it makes
	cl      *kgo.Client
	adm     *kadm.Client
	rf      int16
	names   names
}

// names are the topics and group of one test (or one benchmark iteration).
type names struct {
	Input, Alerts, DLQ, State, Group string
}

func (n names) outputs() []string { return []string{n.Alerts, n.DLQ, n.State} }

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// newNames returns unique names: "it-<test>-<random>-in", ... The state topic
// is the processor's default, "<group>-state".
func newNames(t testing.TB) names {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	short := strings.Trim(unsafeName.ReplaceAllString(strings.TrimPrefix(strings.TrimPrefix(t.Name(), "Test"), "Benchmark"), "-"), "-")
	if len(short) > 40 {
		short = short[:40]
	}
	base := "it-" + strings.ToLower(short) + "-" + hex.EncodeToString(b[:])
	return names{Input: base + "-in", Alerts: base + "-alerts", DLQ: base + "-dlq", State: base + "-state", Group: base}
}

// newEnv connects to the brokers (or skips or fails, see kafkaBrokers) and
// fails the test if the processor binary did not build or the cluster does
// not answer. The topics it names are deleted when the test passes.
func newEnv(t testing.TB) *env {
	t.Helper()
	brokers := kafkaBrokers(t)
	if buildErr != nil {
		t.Fatalf("building the processor: %v", buildErr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("kafka client for %v: %v", brokers, err)
	}
	e := &env{t: t, brokers: brokers, cl: cl, adm: kadm.NewClient(cl), names: newNames(t)}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bs, err := e.adm.ListBrokers(ctx)
	if err != nil {
		t.Fatalf("KAFKA_BROKERS=%s does not answer: %v", strings.Join(brokers, ","), err)
	}
	e.rf = int16(min(len(bs), 3))
	t.Logf("kafka: %d broker(s) at %s; topics and group %s-*", len(bs), strings.Join(brokers, ","), e.names.Group)
	e.cleanupTopics(e.names)
	return e
}

// cleanupTopics deletes the topics of n when the test passes; when it fails
// they stay for inspection and are named in the log.
func (e *env) cleanupTopics(n names) {
	e.t.Cleanup(func() {
		all := append([]string{n.Input}, n.outputs()...)
		if e.t.Failed() {
			e.t.Logf("topics kept for inspection: %s (group %s)", strings.Join(all, ", "), n.Group)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = e.adm.DeleteTopics(ctx, all...)
		_, _ = e.adm.DeleteGroups(ctx, n.Group)
	})
}

func (e *env) brokerList() string { return strings.Join(e.brokers, ",") }

// clientOpts are the seed brokers and connection options for a new client.
func (e *env) clientOpts() []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(e.brokers...)}, e.opts...)
}

// createTopic creates topic with the given partitions and waits until its
// partitions have leaders.
func (e *env) createTopic(topic string, parts int32) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.createTopicConfig(ctx, topic, parts, nil)
}

// createTopicConfig creates topic (an existing one is fine) and waits until
// its partitions have leaders.
func (e *env) createTopicConfig(ctx context.Context, topic string, parts int32, cfg map[string]*string) {
	e.t.Helper()
	resp, err := e.adm.CreateTopic(ctx, parts, e.rf, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		e.t.Fatalf("creating topic %s: %v", topic, err)
	}
	for {
		md, err := e.adm.Metadata(ctx, topic)
		if err == nil {
			if td, ok := md.Topics[topic]; ok && td.Err == nil && len(td.Partitions) == int(parts) {
				ready := true
				for _, p := range td.Partitions {
					if p.Err != nil || p.Leader < 0 {
						ready = false
					}
				}
				if ready {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("topic %s has no leaders after 30s: %v", topic, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// offsets is a partition → offset map of one topic.
type offsets map[int32]int64

func (o offsets) sum() int64 {
	var s int64
	for _, v := range o {
		s += v
	}
	return s
}

func (o offsets) String() string {
	ps := make([]int, 0, len(o))
	for p := range o {
		ps = append(ps, int(p))
	}
	sort.Ints(ps)
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%d", p, o[int32(p)])
	}
	return b.String()
}

func toOffsets(lo kadm.ListedOffsets, topic string) (offsets, error) {
	out := offsets{}
	var err error
	lo.Each(func(l kadm.ListedOffset) {
		if l.Topic != topic {
			return
		}
		if l.Err != nil {
			err = fmt.Errorf("%s/%d: %w", l.Topic, l.Partition, l.Err)
			return
		}
		out[l.Partition] = l.Offset
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("topic %s has no partitions", topic)
	}
	return out, err
}

// endOffsets returns the high watermarks (read_uncommitted end offsets).
func (e *env) endOffsets(ctx context.Context, topic string) (offsets, error) {
	lo, err := e.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	return toOffsets(lo, topic)
}

// stableOffsets returns the last stable offsets (read_committed end offsets).
func (e *env) stableOffsets(ctx context.Context, topic string) (offsets, error) {
	lo, err := e.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	return toOffsets(lo, topic)
}

// groupOffsets returns the group's committed offsets for topic (-1: none).
func (e *env) groupOffsets(ctx context.Context, group, topic string) (offsets, error) {
	resp, err := e.adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := offsets{}
	for p, r := range resp[topic] {
		if r.Err != nil {
			return nil, fmt.Errorf("%s/%d: %w", topic, p, r.Err)
		}
		out[p] = r.At
	}
	return out, nil
}

// lag returns, per partition, the input end offset minus the group's
// committed offset, and the total.
func (e *env) lag(ctx context.Context, n names) (offsets, offsets, int64, error) {
	ends, err := e.endOffsets(ctx, n.Input)
	if err != nil {
		return nil, nil, 0, err
	}
	committed, err := e.groupOffsets(ctx, n.Group, n.Input)
	if err != nil {
		return nil, nil, 0, err
	}
	var total int64
	for p, end := range ends {
		c, ok := committed[p]
		if !ok || c < 0 {
			c = 0
		}
		total += max(end-c, 0)
	}
	return ends, committed, total, nil
}

// waitCaughtUp waits until the group's committed offsets reach the input's
// end offsets on every non-empty partition, failing early when every one of alive has
// exited. It returns when that was first seen.
func (e *env) waitCaughtUp(n names, timeout time.Duration, alive ...*proc) time.Time {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var ends, committed offsets
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var total int64
		var err error
		ends, committed, total, err = e.lag(ctx, n)
		cancel()
		now := time.Now()
		if err == nil && total == 0 {
			return now
		}
		lastErr = err
		if len(alive) > 0 {
			exited := 0
			for _, p := range alive {
				if p.exited() {
					exited++
				}
			}
			if exited == len(alive) {
				e.t.Fatalf("every processor exited before the group caught up (committed %v, end %v): %s", committed, ends, describe(alive))
			}
		}
		if now.After(deadline) {
			e.t.Fatalf("group %s did not catch up within %s: committed %v, input end %v (last error: %v)", n.Group, timeout, committed, ends, lastErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitQuiet waits until the high watermarks of topics have not changed for
// quiet, failing after timeout or when p exits.
func (e *env) waitQuiet(quiet, timeout time.Duration, p *proc, topics ...string) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	last, since := "", time.Now()
	for {
		p.requireRunning()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var b strings.Builder
		for _, topic := range topics {
			hw, err := e.endOffsets(ctx, topic)
			if err != nil {
				hw = nil
			}
			fmt.Fprintf(&b, "%s[%v] ", topic, hw)
		}
		cancel()
		now := time.Now()
		if cur := b.String(); cur != last {
			last, since = cur, now
		} else if now.Sub(since) >= quiet {
			return
		}
		if now.After(deadline) {
			e.t.Fatalf("outputs still changing after %s: %s", timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitFor polls cond every 100ms until it returns true, failing after
// timeout with what.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readCommitted reads topic from the start to its high watermark with
// read_committed and returns the data records in partition and offset
// order. Control records are kept while reading so the end is seen even
// when the last records are transaction markers; an open transaction keeps
// the read from reaching the end, and the failure names it.
func (e *env) readCommitted(topic string, timeout time.Duration) []*kgo.Record {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ends, err := e.endOffsets(ctx, topic)
	if err != nil {
		e.t.Fatalf("end offsets of %s: %v", topic, err)
	}
	consume := map[int32]kgo.Offset{}
	need := map[int32]int64{}
	for p, end := range ends {
		if end > 0 {
			consume[p] = kgo.NewOffset().AtStart()
			need[p] = end
		}
	}
	if len(need) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(e.clientOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: consume}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	byPart := map[int32][]*kgo.Record{}
	for len(need) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			stable, _ := e.stableOffsets(context.Background(), topic)
			e.t.Fatalf("reading %s with read_committed did not reach the end within %s: partitions still short of the end %v; last stable offsets %v, high watermarks %v (an open transaction?)",
				topic, timeout, offsets(need), stable, ends)
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				e.t.Logf("fetch %s/%d: %v", t, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := need[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				byPart[r.Partition] = append(byPart[r.Partition], r)
			}
			if r.Offset >= end-1 {
				delete(need, r.Partition)
			}
		})
	}
	ps := make([]int, 0, len(byPart))
	for p := range byPart {
		ps = append(ps, int(p))
	}
	sort.Ints(ps)
	var out []*kgo.Record
	for _, p := range ps {
		out = append(out, byPart[int32(p)]...)
	}
	return out
}

// checkNoOpenTransactions asserts that on each topic the read_committed end
// offsets (last stable offsets) equal the read_uncommitted ones (high
// watermarks): no transaction is left open.
func (e *env) checkNoOpenTransactions(topics ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, topic := range topics {
		hw, err := e.endOffsets(ctx, topic)
		if err != nil {
			e.t.Fatalf("end offsets of %s: %v", topic, err)
		}
		// The broker may need a moment to write the markers of a transaction
		// that was just ended; give it a few seconds before calling it open.
		var stable offsets
		deadline := time.Now().Add(15 * time.Second)
		for {
			stable, err = e.stableOffsets(ctx, topic)
			if err != nil {
				e.t.Fatalf("last stable offsets of %s: %v", topic, err)
			}
			if stable.String() == hw.String() || time.Now().After(deadline) {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if stable.String() != hw.String() {
			e.t.Errorf("open transaction on %s: read_committed end offsets %v != read_uncommitted end offsets %v", topic, stable, hw)
		} else {
			e.t.Logf("no open transactions on %s: end offsets %v", topic, hw)
		}
	}
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
