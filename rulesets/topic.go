package rulesets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Reader folds rules-topic records, read in offset order with
// read_committed and control records kept (ConsumeOpts), into docs and
// revisions. A transaction's records apply together at its commit marker;
// a record written without a transaction applies at once.
type Reader struct {
	Docs Docs
	// Pos is the offset after the last record read (control included).
	Pos int64
	// Revision is the offset after the record that completed the latest
	// change ("" before any).
	Revision string
	pending  map[int64]map[string][]byte // by producer ID; nil value: tombstone
}

// NewReader returns an empty reader.
func NewReader() *Reader {
	return &Reader{Docs: Docs{}, pending: map[int64]map[string][]byte{}}
}

// Entry is what the reader needs of a record.
type Entry struct {
	Offset, ProducerID     int64
	Transactional, Control bool
	Key                    string
	Value                  []byte // nil: a tombstone
}

// Add reads one record; it reports whether a revision completed.
func (r *Reader) Add(rec *kgo.Record) bool {
	return r.AddEntry(Entry{Offset: rec.Offset, ProducerID: rec.ProducerID, Transactional: rec.Attrs.IsTransactional(),
		Control: rec.Attrs.IsControl(), Key: string(rec.Key), Value: rec.Value})
}

// AddEntry is Add for an Entry.
func (r *Reader) AddEntry(e Entry) bool {
	r.Pos = e.Offset + 1
	if e.Control {
		p := r.pending[e.ProducerID]
		delete(r.pending, e.ProducerID)
		if len(p) == 0 {
			return false // an abort marker, or an empty transaction
		}
		for k, v := range p {
			r.apply(k, v)
		}
		r.Revision = strconv.FormatInt(r.Pos, 10)
		return true
	}
	v := e.Value
	if v != nil {
		v = append([]byte(nil), v...)
	}
	if e.Transactional {
		p := r.pending[e.ProducerID]
		if p == nil {
			p = map[string][]byte{}
			r.pending[e.ProducerID] = p
		}
		p[e.Key] = v
		return false
	}
	r.apply(e.Key, v)
	r.Revision = strconv.FormatInt(r.Pos, 10)
	return true
}

func (r *Reader) apply(k string, v []byte) {
	if v == nil {
		delete(r.Docs, k)
	} else {
		r.Docs[k] = v
	}
}

// ConsumeOpts are the client options that read the rules topic whole.
func ConsumeOpts(topic string) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
}

// quietEnd: see ReadTo.
const quietEnd = 3 * time.Second

// ErrNoTopic means the rules topic does not exist.
var ErrNoTopic = errors.New("rules topic does not exist")

// ErrPartitions means the rules topic has more than one partition.
var ErrPartitions = errors.New("a rules topic must have exactly one partition (revisions are its offsets)")

// CheckTopic checks that topic exists with one partition; create makes it
// (compacted, one partition) when it does not exist.
func CheckTopic(ctx context.Context, adm *kadm.Client, topic string, create bool, replication int16) error {
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("rules topic %q: %w", topic, err)
	}
	t, ok := td[topic]
	if !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
		if !create {
			return fmt.Errorf("%w: %q (processor rules push creates it)", ErrNoTopic, topic)
		}
		cfg := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
		resp, err := adm.CreateTopic(ctx, 1, replication, cfg, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating rules topic %q: %w", topic, err)
		}
		return waitTopic(ctx, adm, topic)
	}
	if t.Err != nil {
		return fmt.Errorf("rules topic %q: %w", topic, t.Err)
	}
	if n := len(t.Partitions); n != 1 {
		return fmt.Errorf("rules topic %q has %d partitions: %w", topic, n, ErrPartitions)
	}
	return nil
}

// waitTopic waits (up to 15 s) until a topic just created has a leader in
// the metadata the broker answers with, so a read right after the
// creation does not find it missing.
func waitTopic(ctx context.Context, adm *kadm.Client, topic string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		td, err := adm.ListTopics(ctx, topic)
		if t, ok := td[topic]; err == nil && ok && t.Err == nil && len(t.Partitions) == 1 && t.Partitions[0].Leader >= 0 && t.Partitions[0].Err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rules topic %q: created, but no leader after 15s (last error: %v)", topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// end is the rules topic's last stable offset. A push's EndTransaction
// returns before the brokers have written its commit marker, and until
// then the last stable offset stays before the push: a read right after a
// push (rules list, a processor started at once) would miss it. So while
// the last stable offset is behind the high watermark, end waits for it,
// up to stableWait (a transaction a publisher still holds open is not
// waited for longer: what was read is then an earlier revision).
func end(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	deadline := time.Now().Add(stableWait)
	for {
		lso, err := offsetOf(topic)(adm.ListCommittedOffsets(ctx, topic))
		if err != nil {
			return 0, fmt.Errorf("rules topic %q: end offset: %w", topic, err)
		}
		hwm, err := offsetOf(topic)(adm.ListEndOffsets(ctx, topic))
		if err != nil {
			return 0, fmt.Errorf("rules topic %q: end offset: %w", topic, err)
		}
		if lso >= hwm || time.Now().After(deadline) {
			return lso, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stableWait bounds how long end waits for a transaction to become stable.
const stableWait = 5 * time.Second

// offsetOf reads partition 0's offset of topic from a kadm listing.
func offsetOf(topic string) func(kadm.ListedOffsets, error) (int64, error) {
	return func(lo kadm.ListedOffsets, err error) (int64, error) {
		if err != nil {
			return 0, err
		}
		o, ok := lo.Lookup(topic, 0)
		if !ok {
			return 0, errors.New("no offset for partition 0")
		}
		if o.Err != nil {
			return 0, o.Err
		}
		return o.Offset, nil
	}
}

// ReadTo reads records with cl (made with ConsumeOpts) into r until r.Pos
// reaches the topic's last stable offset as of the call. The last records
// before it may have been compacted away (a commit marker, a tombstone past
// delete.retention.ms): when nothing arrives for quietEnd, what was read is
// taken as the whole topic. (Should records still arrive later, they are a
// later revision: what was read is a prefix of the log, an earlier one.)
func ReadTo(ctx context.Context, cl *kgo.Client, r *Reader, topic string) error {
	e, err := end(ctx, kadm.NewClient(cl), topic)
	if err != nil {
		return err
	}
	last := time.Now()
	for r.Pos < e {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("rules topic %q: read to offset %d, at %d: %w", topic, e, r.Pos, err)
		}
		if fs.NumRecords() > 0 {
			last = time.Now()
		} else if time.Since(last) > quietEnd {
			return nil
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("rules topic %q: %w", topic, ferr)
		}
		fs.EachRecord(func(rec *kgo.Record) { r.Add(rec) })
	}
	return nil
}

// ReadAll reads the whole rules topic with a client of its own made from
// opts (connection options).
func ReadAll(ctx context.Context, opts []kgo.Opt, topic string) (*Reader, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...), ConsumeOpts(topic)...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if err := CheckTopic(ctx, kadm.NewClient(cl), topic, false, 0); err != nil {
		return nil, err
	}
	r := NewReader()
	return r, ReadTo(ctx, cl, r, topic)
}

// Publish writes records to the rules topic in one transaction: all of them
// or none (value nil: a tombstone). The transactional ID is per topic, so
// concurrent publishers fence each other instead of interleaving.
func Publish(ctx context.Context, opts []kgo.Opt, topic string, recs map[string][]byte) (int64, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.TransactionalID("eqlstream-rules-"+topic), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordDeliveryTimeout(30*time.Second))...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return 0, fmt.Errorf("rules topic %q: begin transaction: %w", topic, err)
	}
	var last int64 = -1
	var perr error
	for _, k := range Docs(recs).Keys() {
		r, err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(k), Value: recs[k], Partition: 0}).First()
		if err != nil {
			perr = err
			break
		}
		last = r.Offset
	}
	commit := kgo.TransactionEndTry(perr == nil)
	if err := cl.EndTransaction(ctx, commit); err != nil && perr == nil {
		perr = err
	}
	if perr != nil {
		return 0, fmt.Errorf("rules topic %q: nothing published: %w", topic, perr)
	}
	return last + 2, nil // after the commit marker
}

// Builder compiles the docs of a revision.
type Builder func(d Docs, revision string) (*rules.RuleSet, []error)

// Follower reads a rules topic into a Live.
type Follower struct {
	Topic string
	Opts  []kgo.Opt // connection options
	Build Builder
	Live  *Live
	Log   *slog.Logger
}

// Start reads the whole topic and offers its revision to Live (the
// instance is not ready before: call Start before the pipeline starts),
// then follows the topic in the background until ctx ends. An error
// reading the topic at the start is returned.
func (f *Follower) Start(ctx context.Context) error {
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, f.Opts...), ConsumeOpts(f.Topic)...)...)
	if err != nil {
		return err
	}
	if err := CheckTopic(ctx, kadm.NewClient(cl), f.Topic, false, 0); err != nil {
		cl.Close()
		return err
	}
	r := NewReader()
	t0 := time.Now()
	if err := ReadTo(ctx, cl, r, f.Topic); err != nil {
		cl.Close()
		return err
	}
	set, errs := f.Build(r.Docs, r.Revision)
	f.Live.Offer(set, errs)
	f.Log.Info("rules topic read", "topic", f.Topic, "revision", r.Revision, "records", len(r.Docs), "errors", len(errs), "took", time.Since(t0).Round(time.Millisecond))
	go func() {
		defer cl.Close()
		fails := 0
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			// The running revision stays while the topic cannot be read
			// (detection goes on); errors are logged with a backoff of
			// 100ms doubling to 10s between polls.
			var ferr error
			fs.EachError(func(_ string, _ int32, err error) { ferr = err })
			if ferr != nil {
				fails++
				if fails <= 3 || fails%20 == 0 {
					f.Log.Warn("reading the rules topic; the running revision stays", "topic", f.Topic, "revision", r.Revision, "failures", fails, "err", ferr)
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(min(100*time.Millisecond<<min(fails, 7), 10*time.Second)):
				}
			} else {
				fails = 0
			}
			changed := false
			fs.EachRecord(func(rec *kgo.Record) { changed = r.Add(rec) || changed })
			if changed {
				set, errs := f.Build(r.Docs, r.Revision)
				f.Live.Offer(set, errs)
			}
		}
	}()
	return nil
}
