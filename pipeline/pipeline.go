package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/eqlstream/eqlstream/faults"
	"github.com/eqlstream/eqlstream/health"
	"github.com/eqlstream/eqlstream/partition"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/suppress"
	"github.com/eqlstream/eqlstream/sinks"
	json "github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrFatal wraps errors after which the instance must exit and be restarted
// (a fenced producer, a failed transaction end, state that cannot be restored).
var ErrFatal = errors.New("fatal pipeline error")

// Pipeline is one instance of the exactly-once processor.
type Pipeline struct {
	unsafeEnds int // transactions ended in the keep-state-on-abort control
	cfg        Config
	set        *rules.RuleSet // written by the loop under setMu (rulesync.go)
	setMu      sync.Mutex
	log        *slog.Logger
	m          *Metrics
	extra      []kgo.Opt

	mu    sync.Mutex
	procs map[partition.TP]*partition.Processor

	sess   *kgo.GroupTransactSession
	cl     *kgo.Client // the session's client, or the plain client in at-least-once mode
	adm    *kadm.Client
	health *health.Tracker
	// fatal is set by goroutines other than the loop (the monitor) with
	// an error that cannot heal; the loop returns it.
	fatal atomic.Pointer[error]
	// ends are the input topics' end offsets, last asked by the monitor.
	ends    atomic.Pointer[map[partition.TP]int64]
	lastLag time.Time
	hw      map[partition.TP]int64 // high watermarks fetches reported (loop only)
	// counted is the next input offset not yet counted in events_in_total,
	// per partition (replays count in events_replayed_total).
	counted map[partition.TP]int64
	// topicCtr caches the counters of each input topic (loop only).
	topicCtr map[string]topicCounters
	// unknownSince is when a topic was first seen missing, per topic.
	unknownMu    sync.Mutex
	unknownSince map[string]time.Time
	retries      int

	restoreErr atomic.Pointer[error]
	bodyMu     sync.Mutex
	bodyCl     *kgo.Client

	// OnCommit, when set, is called after each committed transaction with
	// the alerts it committed (used by the embedded demo and tests).
	OnCommit func(alerts [][]byte)

	// rebalanced is set by the revoke and lost callbacks; the loop then
	// resets the session before it processes anything (see rebalance.go).
	rebalanced atomic.Bool
	pollMu     sync.Mutex
	pollCancel context.CancelFunc // cancels the poll in progress

	mismatchLogged atomic.Int64
	// lastIdleCheck rate-limits asking the brokers for end offsets.
	lastIdleCheck time.Time
	// lastRulesCommit rate-limits rule-set change transactions.
	lastRulesCommit time.Time
}

// New returns a pipeline; extra client options (e.g. a kfake dialer) are
// appended to every client it makes.
func New(cfg Config, set *rules.RuleSet, log *slog.Logger, m *Metrics, extra ...kgo.Opt) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if err := suppress.CheckScope(set, cfg.HostField); err != nil {
		return nil, err
	}
	m.initTopics(cfg.InputTopics)
	m.initRules(set)
	return &Pipeline{cfg: cfg, set: set, log: log, m: m, extra: extra, procs: map[partition.TP]*partition.Processor{},
		health:  health.New(cfg.BrokerBound, cfg.WedgedBound),
		counted: map[partition.TP]int64{}, topicCtr: map[string]topicCounters{}, unknownSince: map[string]time.Time{}}, nil
}

// Ready reports whether the instance is ready (see package health).
func (p *Pipeline) Ready() bool { ok, _ := p.health.Ready(); return ok }

// Health returns the instance's readiness and liveness tracker.
func (p *Pipeline) Health() *health.Tracker { return p.health }

func (p *Pipeline) baseOpts() []kgo.Opt {
	// The client ID names the instance in the brokers' view of the group
	// (DescribeGroups), in their request logs and in quotas.
	opts := []kgo.Opt{kgo.SeedBrokers(p.cfg.Brokers...), kgo.ClientID("eqlstream-" + p.cfg.InstanceID)}
	if p.cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(p.cfg.TLS))
	}
	if p.cfg.SASL != nil {
		opts = append(opts, kgo.SASL(p.cfg.SASL))
	}
	return append(opts, p.extra...)
}

// partitioner sends state records to the partition they name and other
// records by a hash of their key.
func (p *Pipeline) partitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		if topic == p.cfg.StateTopic {
			return func(r *kgo.Record, n int) int { return int(r.Partition) }
		}
		return func(r *kgo.Record, n int) int { return int(xxhash.Sum64(r.Key) % uint64(n)) }
	})
}

// Run runs the pipeline until ctx is canceled (a clean shutdown returns nil)
// or a fatal error occurs.
func (p *Pipeline) Run(ctx context.Context) error {
	// The admin client answers from fresh metadata: with the default 5s
	// minimum age, topics it has just created stayed invisible to it for
	// five seconds and startup waited for them.
	admCl, err := kgo.NewClient(append(p.baseOpts(), kgo.MetadataMinAge(100*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer admCl.Close()
	p.adm = kadm.NewClient(admCl)
	if err := p.checkTopics(ctx); err != nil {
		return err
	}
	opts := append(p.baseOpts(),
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(p.cfg.InputTopics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(p.partitioner()),
		kgo.AdjustFetchOffsetsFn(p.restore),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(p.assigned),
		kgo.OnPartitionsRevoked(p.drop("revoked")),
		kgo.OnPartitionsLost(p.drop("lost")),
		kgo.FetchMaxWait(max(p.cfg.CommitInterval, 50*time.Millisecond)),
		// A record that cannot be delivered fails well within the
		// transaction timeout, so the abort reaches the coordinator before
		// it times the transaction out and fences the producer.
		kgo.RecordDeliveryTimeout(max(p.cfg.TransactionTimeout/2, time.Second)),
		kgo.SessionTimeout(p.cfg.SessionTimeout),
		kgo.HeartbeatInterval(max(p.cfg.SessionTimeout/10, 500*time.Millisecond)),
		kgo.RebalanceTimeout(2*p.cfg.TransactionTimeout+10*time.Second),
	)
	if p.cfg.UnsafeAtLeastOnce {
		// Negative control: no transactions; offsets are marked after the
		// produced records are acknowledged and committed in the background.
		opts = append(opts, kgo.AutoCommitMarks(), kgo.AutoCommitInterval(time.Second))
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return err
		}
		p.cl = cl
		defer p.closeBodyClient()
		defer cl.CloseAllowingRebalance()
		mctx, stopMonitor := context.WithCancel(ctx)
		monitorDone := make(chan struct{})
		go func() { defer close(monitorDone); p.monitor(mctx) }()
		defer func() { stopMonitor(); <-monitorDone }()
		return p.loop(ctx)
	}
	opts = append(opts,
		kgo.TransactionalID(p.cfg.TransactionalID()),
		kgo.TransactionTimeout(p.cfg.TransactionTimeout),
		kgo.RequireStableFetchOffsets(),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return err
	}
	p.sess, p.cl = sess, sess.Client()
	defer p.closeBodyClient()
	defer sess.CloseAllowingRebalance()
	mctx, stopMonitor := context.WithCancel(ctx)
	monitorDone := make(chan struct{})
	go func() { defer close(monitorDone); p.monitor(mctx) }()
	defer func() { stopMonitor(); <-monitorDone }()
	p.log.Info("pipeline started", "group", p.cfg.Group, "instance_id", p.cfg.InstanceID,
		"transactional_id", p.cfg.TransactionalID(), "input", p.cfg.InputTopics, "rules", len(p.set.Program.Rules()))
	return p.loop(ctx)
}

func (p *Pipeline) closeBodyClient() {
	p.bodyMu.Lock()
	defer p.bodyMu.Unlock()
	if p.bodyCl != nil {
		p.bodyCl.Close()
		p.bodyCl = nil
	}
}

type txn struct {
	begun    bool
	start    time.Time
	records  int
	promise  *kgo.FirstErrPromise
	errMu    sync.Mutex
	errTopic string // the topic of the first failed produce
	touched  map[*partition.Processor]struct{}
	alerts   [][]byte
	alertTs  []time.Time
	alertIDs []string
	rules    []*rules.Rule
	dead     map[string]int
	tuning   txnTuning
}

func (p *Pipeline) loop(ctx context.Context) error {
	// Producing and ending transactions must not be cut short by shutdown:
	// they use their own context with a bound.
	work := context.WithoutCancel(ctx)
	t := &txn{}
	for {
		if errp := p.restoreErr.Load(); errp != nil {
			p.abortOpen(work, t)
			return fmt.Errorf("%w: %w", ErrFatal, *errp)
		}
		if errp := p.fatal.Load(); errp != nil {
			p.abortOpen(work, t)
			return *errp // wraps ErrFatal
		}
		p.updateLag()
		if ctx.Err() != nil {
			return p.shutdown(work, t)
		}
		if !t.begun {
			if err := p.syncRules(work, t); err != nil {
				return err
			}
		}
		pollCtx, cancel := context.WithTimeout(ctx, p.cfg.CommitInterval)
		if t.begun {
			remaining := p.cfg.CommitInterval - time.Since(t.start)
			cancel()
			pollCtx, cancel = context.WithTimeout(ctx, max(remaining, time.Millisecond))
		}
		p.setPollCancel(cancel)
		fetches := p.cl.PollRecords(pollCtx, p.cfg.MaxBatchRecords)
		p.setPollCancel(nil)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		if !t.begun && p.rebalanced.Load() && p.sess != nil {
			// Rebalance callbacks ran since the last poll: reset the
			// session before processing anything. The polled records
			// are fetched again from the committed offsets.
			if err := p.resetSession(work); err != nil {
				return err
			}
			p.cl.AllowRebalance()
			continue
		}
		if err := p.pollErrors(fetches); err != nil {
			p.abortOpen(work, t)
			return err
		}
		if !fetches.Empty() {
			if !t.begun {
				if err := p.begin(t); err != nil {
					return p.classify("begin transaction", err)
				}
			}
			if err := p.processFetches(work, t, fetches); err != nil {
				p.abortOpen(work, t)
				return err
			}
		}
		if !t.begun && fetches.Empty() && p.cfg.IdleFlush > 0 {
			if err := p.flushIdle(work, t); err != nil {
				return err
			}
		}
		if t.begun && (time.Since(t.start) >= p.cfg.CommitInterval || t.records >= p.cfg.MaxBatchRecords) {
			if err := p.end(work, t); err != nil {
				if ctx.Err() != nil {
					// shutting down: as in shutdown, Kafka aborts the
					// transaction and the next owner replays its records
					p.log.Warn("the transaction ending when shutdown began could not be committed; it is aborted and its records will be processed again", "err", err)
					p.health.Stopping()
					return nil
				}
				return err
			}
		}
		if !t.begun {
			// No transaction is open: let a pending rebalance run its
			// callbacks (until the next poll returns).
			p.cl.AllowRebalance()
		}
	}
}

func (p *Pipeline) processFetches(ctx context.Context, t *txn, fetches kgo.Fetches) error {
	var err error
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if err != nil || len(fp.Records) == 0 {
			return
		}
		tp := partition.TP{Topic: fp.Topic, Partition: fp.Partition}
		p.mu.Lock()
		proc := p.procs[tp]
		p.mu.Unlock()
		if proc == nil {
			// Cannot happen: state is restored before a partition is
			// fetched, and it is dropped only in the revoke and lost
			// callbacks, after fetching stopped. Skipping the records
			// would commit their offsets unprocessed.
			err = fmt.Errorf("%w: records of %s arrived without its state", ErrFatal, tp)
			return
		}
		if _, ok := t.touched[proc]; !ok {
			p.onCurrentRules(proc)
			t.touched[proc] = struct{}{}
			proc.Begin()
		}
		processed := false
		cnt := p.startCount(tp)
		defer p.endCount(tp, &cnt)
		for _, rec := range fp.Records {
			if rec.Offset < proc.Next {
				continue // already processed in this transaction
			}
			if e := p.processRecord(ctx, t, proc, rec, &cnt); e != nil {
				err = e
				return
			}
			t.records++
			processed = true
		}
		if processed {
			proc.LastEvent = time.Now() // once per fetched batch, not per record
		}
		p.noteHighWatermark(tp, fp.HighWatermark)
	})
	return err
}

func (p *Pipeline) processRecord(ctx context.Context, t *txn, proc *partition.Processor, rec *kgo.Record, cnt *eventCount) error {
	defer func() { proc.Next = rec.Offset + 1 }()
	if len(rec.Value) > p.cfg.MaxEventBytes {
		p.deadLetter(ctx, t, rec, engine.ReasonTooLarge, fmt.Sprintf("event of %d bytes is larger than the limit of %d", len(rec.Value), p.cfg.MaxEventBytes))
		return nil
	}
	before := proc.Engine.Stats()
	ms, retained, err := proc.Engine.Process(rec.Value, uint64(rec.Offset))
	if err != nil {
		reason := engine.ReasonMalformed
		var de *engine.DecodeError
		if errors.As(err, &de) {
			reason = de.Reason
		}
		p.deadLetter(ctx, t, rec, reason, err.Error())
		return nil
	}
	cnt.add(rec.Offset)
	after := proc.Engine.Stats()
	if after.Late > before.Late {
		p.m.LateEvents.Inc()
	}
	if after.Evicted > before.Evicted {
		p.m.Evictions.Add(float64(after.Evicted - before.Evicted))
	}
	if present, same := proc.Engine.FieldEquals(p.cfg.HostField, rec.Key); present && !same {
		p.m.KeyMismatch.Inc()
		if n := p.mismatchLogged.Add(1); n <= 10 || n%10000 == 0 {
			host, _ := proc.Engine.FieldString(p.cfg.HostField)
			p.log.Warn("record key is not the event's host.id: sequences rely on co-partitioning by host",
				"topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "key", string(rec.Key), "host_id", host, "count", n)
		}
	}
	if retained {
		proc.Bodies.Put(uint64(rec.Offset), rec.Value)
	}
	return p.emitAlerts(ctx, t, proc, ms, rec)
}

// emitAlerts produces the alerts of matches; rec is the record being
// processed (nil for an idle flush).
func (p *Pipeline) emitAlerts(ctx context.Context, t *txn, proc *partition.Processor, ms []engine.Match, rec *kgo.Record) error {
	for _, m := range ms {
		docs, err := p.set.AlertDocs(m, p.bodies(ctx, proc, rec), time.Now())
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrFatal, proc.TP, err)
		}
		if err := p.emitAlert(ctx, t, proc, m, docs, rec); err != nil {
			return err
		}
	}
	p.closeWindows(ctx, t, proc, rec)
	proc.Bodies.Trim(proc.Engine.MinLiveRef)
	return nil
}

func (p *Pipeline) bodies(ctx context.Context, proc *partition.Processor, rec *kgo.Record) rules.Bodies {
	return func(ref uint64) ([]byte, bool) {
		if rec != nil && int64(ref) == rec.Offset {
			return rec.Value, true
		}
		if b, ok := proc.Bodies.Get(ref); ok {
			return b, true
		}
		b, err := p.fetchBody(ctx, proc.TP, int64(ref))
		if err != nil {
			p.log.Error("fetching a matched event", "topic", proc.TP.Topic, "partition", proc.TP.Partition, "offset", ref, "err", err)
			return nil, false
		}
		proc.Bodies.Put(ref, b)
		return b, true
	}
}

func (p *Pipeline) deadLetter(ctx context.Context, t *txn, rec *kgo.Record, reason, msg string) {
	p.produce(ctx, t, sinks.DeadLetterRecord(p.cfg.DLQTopic, rec, reason, msg))
	t.dead[reason]++
	if n := t.dead[reason]; n <= 3 {
		p.log.Warn("dead letter", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "reason", reason, "err", msg)
	}
}

// shutdown ends the open transaction (committing what was processed) and
// leaves the group.
func (p *Pipeline) shutdown(ctx context.Context, t *txn) error {
	p.health.Stopping()
	if t.begun {
		if err := p.end(ctx, t); err != nil {
			// The transaction did not commit (typically fenced by a
			// concurrent rebalance): Kafka aborts it, and the partitions'
			// next owner restores the committed state and consumes its
			// records again. Nothing is lost, so shutdown still succeeds.
			p.log.Warn("the open transaction could not be committed at shutdown; it is aborted and its records will be processed again", "err", err)
		}
	}
	p.log.Info("pipeline stopped")
	return nil
}

// flushIdle releases the buffered events of partitions that have received
// nothing for IdleFlush, in a transaction of its own.
func (p *Pipeline) flushIdle(ctx context.Context, t *txn) error {
	now := time.Now()
	p.mu.Lock()
	var idle []*partition.Processor
	for _, proc := range p.procs {
		if !proc.LastEvent.IsZero() && now.Sub(proc.LastEvent) >= p.cfg.IdleFlush && proc.Engine.Stats().Buffered > 0 {
			idle = append(idle, proc)
		}
	}
	p.mu.Unlock()
	if len(idle) == 0 || now.Sub(p.lastIdleCheck) < p.cfg.IdleFlush/2 {
		return nil
	}
	p.lastIdleCheck = now
	// Only a partition that has really reached the end of its log is quiet:
	// one that merely stalls (a broker down, a slow fetch) still has input
	// waiting, and flushing it would make that input late. The broker must
	// confirm; if it cannot be asked, nothing is flushed.
	topics := make([]string, 0, len(idle))
	seen := map[string]bool{}
	for _, proc := range idle {
		if !seen[proc.TP.Topic] {
			seen[proc.TP.Topic] = true
			topics = append(topics, proc.TP.Topic)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	ends, err := p.adm.ListEndOffsets(lctx, topics...)
	cancel()
	if err != nil {
		return nil
	}
	caughtUp := idle[:0]
	for _, proc := range idle {
		if e, ok := ends.Lookup(proc.TP.Topic, proc.TP.Partition); ok && e.Err == nil && proc.Next >= e.Offset {
			caughtUp = append(caughtUp, proc)
		}
	}
	idle = caughtUp
	if len(idle) == 0 {
		return nil
	}
	// Flush only what the group coordinator assigns to this member (see
	// rebalance.go): on any doubt, flush nothing now.
	tps := make([]partition.TP, len(idle))
	for i, proc := range idle {
		tps[i] = proc.TP
	}
	owned, err := p.ownedNow(ctx, tps)
	if err != nil {
		if f := faults.Classify(err, p.scope("Describe", "")); f != nil {
			return fmt.Errorf("%w: describing the group before an idle flush: %w", ErrFatal, f)
		}
		p.log.Debug("idle flush postponed: group ownership not confirmed", "err", err)
		return nil
	}
	mine := idle[:0]
	for _, proc := range idle {
		if owned[proc.TP] {
			mine = append(mine, proc)
		} else {
			p.log.Warn("idle flush skipped: the group assigns the partition to another member", "topic", proc.TP.Topic, "partition", proc.TP.Partition)
		}
	}
	idle = mine
	if len(idle) == 0 {
		return nil
	}
	sort.Slice(idle, func(i, j int) bool { return idle[i].TP.String() < idle[j].TP.String() })
	for _, proc := range idle {
		p.log.Info("idle flush", "topic", proc.TP.Topic, "partition", proc.TP.Partition, "buffered", proc.Engine.Stats().Buffered)
	}
	if err := p.begin(t); err != nil {
		return p.classify("begin transaction", err)
	}
	for _, proc := range idle {
		p.onCurrentRules(proc)
		t.touched[proc] = struct{}{}
		proc.Begin()
		ms := p.cfg.flushIdle(proc)
		if err := p.emitAlerts(ctx, t, proc, ms, nil); err != nil {
			p.abortOpen(ctx, t)
			return err
		}
	}
	return p.end(ctx, t)
}

// updateStateGauges sets the gauges summed over the assigned partitions.
func (p *Pipeline) updateStateGauges() {
	live, buffered := 0, 0
	p.mu.Lock()
	for _, proc := range p.procs {
		st := proc.Engine.Stats()
		live += st.LiveStates
		buffered += st.Buffered
	}
	p.mu.Unlock()
	p.m.LiveStates.Set(float64(live))
	p.m.Buffered.Set(float64(buffered))
}

// alertHost reads host.id from an alert document.
func alertHost(doc []byte) (string, bool) {
	var a struct {
		Host struct {
			ID string `json:"id"`
		} `json:"host"`
	}
	if err := json.Unmarshal(doc, &a); err != nil || a.Host.ID == "" {
		return "", false
	}
	return a.Host.ID, true
}
