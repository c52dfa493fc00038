package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eqlstream/eqlstream/faults"
	"github.com/eqlstream/eqlstream/partition"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/twmb/franz-go/pkg/kgo"
)

func (p *Pipeline) begin(t *txn) error {
	*t = txn{begun: true, start: time.Now(), touched: map[*partition.Processor]struct{}{}, dead: map[string]int{}}
	if p.sess != nil {
		if err := p.sess.Begin(); err != nil {
			return err
		}
		t.promise = kgo.AbortingFirstErrPromise(p.cl)
	} else {
		t.promise = kgo.AbortingFirstErrPromise(nil)
	}
	p.health.TxnBegun()
	return nil
}

func (p *Pipeline) produce(ctx context.Context, t *txn, r *kgo.Record) {
	promise := t.promise.Promise()
	p.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
		if err != nil {
			t.errMu.Lock()
			if t.errTopic == "" {
				t.errTopic = r.Topic
			}
			t.errMu.Unlock()
		}
		promise(r, err)
	})
}

// scope names the instance and the operation for faults.Classify.
func (p *Pipeline) scope(op, topic string) faults.Scope {
	return faults.Scope{Group: p.cfg.Group, TransactionalID: p.cfg.TransactionalID(), Operation: op, Topic: topic}
}

// fatalf wraps err in ErrFatal: with the classified message when faults
// knows it, else with what was being done.
func (p *Pipeline) fatalf(what string, err error, s faults.Scope) error {
	if f := faults.Classify(err, s); f != nil {
		return fmt.Errorf("%w: %s: %w", ErrFatal, what, f)
	}
	return fmt.Errorf("%w: %s: %w", ErrFatal, what, err)
}

// classify is fatalf for errors with no topic.
func (p *Pipeline) classify(what string, err error) error {
	return p.fatalf(what, err, p.scope("", ""))
}

// Abort causes, the label of eqlstream_transaction_aborts_total.
const (
	causeProduce       = "produce_error"
	causeCommitRefused = "commit_refused"
	causeFatal         = "fatal_error"
)

// end produces the state records of every touched partition and ends the
// transaction: committed, the engines keep their changes; aborted, they roll
// back and the records are consumed again.
//
// Every abort is logged at warn with its cause: the produce error (and its
// topic), or the group coordinator refusing the offset commit (a rebalance
// began, or this member's generation is no longer current), and counted
// by cause. A produce error that cannot heal stops the instance; one that
// can is retried with backoff while the instance is not ready.
func (p *Pipeline) end(ctx context.Context, t *txn) error {
	for proc := range t.touched {
		for _, sr := range proc.PendingState() {
			p.produce(ctx, t, &kgo.Record{Topic: p.cfg.StateTopic, Partition: proc.TP.Partition, Key: sr.Key, Value: sr.Value})
		}
	}
	perr := t.promise.Err() // waits for every record (RecordDeliveryTimeout bounds it)
	endCtx, cancel := context.WithTimeout(ctx, 2*p.cfg.TransactionTimeout)
	defer cancel()
	t.errMu.Lock()
	errTopic := t.errTopic
	t.errMu.Unlock()
	var committed bool
	var err error
	if p.sess != nil {
		try := perr == nil
		if p.cfg.UnsafeKeepStateOnAbort && len(t.alerts) > 0 {
			// negative control: since rebalances no longer abort
			// transactions (they wait for the transaction to end), abort
			// every second transaction that produced alerts itself: the
			// state it keeps skips their records on the retry, so their
			// alerts are lost for sure (every fourth transaction with
			// records was too few once processors batched more per
			// transaction: a run aborted 2 and lost nothing)
			p.unsafeEnds++
			try = try && p.unsafeEnds%2 != 0
		}
		committed, err = p.sess.End(endCtx, kgo.TransactionEndTry(try))
		p.rebalanced.Store(false) // End reset the session's flags
	} else {
		// at-least-once (negative control): produce, flush, commit offsets
		if perr == nil {
			if err = p.cl.Flush(endCtx); err == nil {
				p.cl.MarkCommitOffsets(p.cl.UncommittedOffsets())
				committed = true
			}
		}
	}
	p.m.TxnDuration.Observe(time.Since(t.start).Seconds())
	t.begun = false
	if err != nil {
		p.m.Txns.WithLabelValues("error").Inc()
		p.m.TxnAborts.WithLabelValues(causeFatal).Inc()
		p.health.TxnEnded(false, "ending the transaction failed")
		p.log.Warn("transaction end failed", "cause", causeFatal, "records", t.records, "produce_err", perr, "err", err)
		// Produce errors come through the promises; an End error with a
		// topic is the offset commit's: Read on the input.
		return p.fatalf("ending transaction", err, p.scope("Read", strings.Join(p.cfg.InputTopics, ",")))
	}
	if !committed {
		p.m.Txns.WithLabelValues("aborted").Inc()
		cause, detail := causeCommitRefused, "the group coordinator did not accept the offset commit (a rebalance began, or this member's generation is no longer current)"
		if perr != nil {
			cause, detail = causeProduce, fmt.Sprintf("producing to %q failed: %v", errTopic, perr)
		}
		p.m.TxnAborts.WithLabelValues(cause).Inc()
		p.log.Warn("transaction aborted; records will be consumed again", "cause", cause, "detail", detail, "records", t.records)
		for proc := range t.touched {
			if p.cfg.UnsafeKeepStateOnAbort {
				continue
			}
			if err := proc.Aborted(); err != nil {
				return fmt.Errorf("%w: rolling back %s: %w", ErrFatal, proc.TP, err)
			}
		}
		if perr != nil {
			if f := faults.Classify(perr, p.scope("Write", errTopic)); f != nil {
				p.health.TxnEnded(false, detail)
				return fmt.Errorf("%w: %w", ErrFatal, f)
			}
			if faults.IsUnknownTopic(perr) {
				if err := p.topicMissing(errTopic, perr); err != nil {
					return err
				}
			}
			if p.sess == nil {
				return fmt.Errorf("%w: produce: %w", ErrFatal, perr)
			}
			p.health.TxnEnded(false, detail)
			p.backoff(ctx)
			return nil
		}
		// A refused commit heals by itself (the session rejoins); it
		// does not make the instance not ready.
		p.health.TxnEnded(false, "")
		return nil
	}
	p.retries = 0
	p.health.TxnEnded(true, "")
	p.m.Txns.WithLabelValues("committed").Inc()
	p.topicsSeen(errTopic)
	now := time.Now()
	var excluded []engine.ExclusionCount
	for proc := range t.touched {
		excluded = append(excluded, proc.ExcludedInTxn()...)
		proc.Committed()
	}
	p.tuningCommitted(t, excluded)
	p.updateStateGauges()
	for i, r := range t.rules {
		p.m.AlertsOut.WithLabelValues(r.ID, r.Name).Inc()
		if !t.alertTs[i].IsZero() {
			p.m.AlertLatency.Observe(now.Sub(t.alertTs[i]).Seconds())
		}
	}
	for reason, n := range t.dead {
		p.m.DeadLetters.WithLabelValues(reason).Add(float64(n))
	}
	if p.OnCommit != nil && len(t.alerts) > 0 {
		p.OnCommit(t.alerts)
	}
	return nil
}

// backoff waits before the records of an aborted transaction are processed
// again: 100ms doubling to 5s.
func (p *Pipeline) backoff(ctx context.Context) {
	d := min(100*time.Millisecond<<min(p.retries, 6), 5*time.Second)
	p.retries++
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (p *Pipeline) abortOpen(ctx context.Context, t *txn) {
	if !t.begun {
		return
	}
	t.begun = false
	if p.sess != nil {
		endCtx, cancel := context.WithTimeout(ctx, p.cfg.TransactionTimeout)
		defer cancel()
		_, _ = p.sess.End(endCtx, kgo.TryAbort)
	}
	p.m.TxnAborts.WithLabelValues(causeFatal).Inc()
	p.log.Warn("transaction aborted before stopping", "cause", causeFatal, "records", t.records)
	for proc := range t.touched {
		_ = proc.Aborted()
	}
}

// pollErrors reports a poll's errors: those that cannot heal stop the
// instance; the others are logged and make it not ready until a poll
// succeeds.
func (p *Pipeline) pollErrors(fetches kgo.Fetches) error {
	var first, fatal error
	fetches.EachError(func(topic string, part int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		if first == nil {
			first = fmt.Errorf("%s/%d: %w", topic, part, err)
		}
		var ge *kgo.ErrGroupSession
		op := "Read"
		if errors.As(err, &ge) {
			topic = ""
		}
		if f := faults.Classify(err, p.scope(op, topic)); f != nil && fatal == nil {
			fatal = fmt.Errorf("%w: fetching: %w", ErrFatal, f)
		}
		if faults.IsUnknownTopic(err) && fatal == nil && topic != "" {
			fatal = p.topicMissing(topic, err)
		}
		p.log.Warn("fetch error", "topic", topic, "partition", part, "err", err)
	})
	p.health.Poll(first)
	return fatal
}

// topicMissing records that topic answered UNKNOWN_TOPIC_OR_PARTITION and
// returns a fatal error when it has for longer than UnknownTopicBound.
func (p *Pipeline) topicMissing(topic string, err error) error {
	p.unknownMu.Lock()
	defer p.unknownMu.Unlock()
	first, ok := p.unknownSince[topic]
	if !ok {
		p.unknownSince[topic] = time.Now()
		return nil
	}
	if d := time.Since(first); d >= p.cfg.UnknownTopicBound {
		return fmt.Errorf("%w: %w", ErrFatal, faults.Gone(p.scope("", topic), err, d))
	}
	return nil
}

// topicsSeen forgets that topics were missing.
func (p *Pipeline) topicsSeen(topics ...string) {
	p.unknownMu.Lock()
	defer p.unknownMu.Unlock()
	for _, t := range topics {
		delete(p.unknownSince, t)
	}
}

// eventCount counts the records of one fetched partition batch evaluated
// for the first time (events_in_total) and again after an abort
// (events_replayed_total); the pipeline keeps, per partition, the next
// offset not yet counted.
type eventCount struct {
	next         int64
	seen         bool
	in, replayed int
}

func (c *eventCount) add(offset int64) {
	if c.seen && offset < c.next {
		c.replayed++
		return
	}
	c.seen, c.next = true, offset+1
	c.in++
}

func (p *Pipeline) startCount(tp partition.TP) eventCount {
	next, seen := p.counted[tp]
	return eventCount{next: next, seen: seen}
}

// endCount adds a batch's counts to the metrics, once per batch rather than
// per record.
func (p *Pipeline) endCount(tp partition.TP, c *eventCount) {
	if c.in == 0 && c.replayed == 0 {
		return
	}
	p.counted[tp] = c.next
	ctr, ok := p.topicCtr[tp.Topic]
	if !ok {
		ctr = p.m.topicCounters(tp.Topic)
		p.topicCtr[tp.Topic] = ctr
	}
	ctr.in.Add(float64(c.in))
	ctr.replayed.Add(float64(c.replayed))
}
