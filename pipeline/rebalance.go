package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/eqlstream/eqlstream/partition"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Ownership across rebalances.
//
// p.procs holds one processor per partition this instance owns; the idle
// flush walks it, so a processor left behind for a partition owned elsewhere
// would flush that partition a second time (alerts twice, and state written
// by two owners). It changes only in the client's callbacks: restore (before
// fetching starts) adds, drop (revoked or lost) removes.
//
// franz-go's GroupTransactSession wraps our revoke and lost callbacks. On the
// first revocation it sets an internal flag, so that the open transaction
// aborts, and calls ours; while the flag is set it returns without calling
// ours; only End resets it. An instance that is idle ends no transaction, so
// with the defaults this ordering loses a revocation:
//
//	idle, no transaction      rebalance 1: revoke {3,4,5}  flag set, drop(3,4,5)
//	still idle                rebalance 2: revoke {2}      flag set: drop skipped
//	idle flush                flushes 0, 1 and 2 -- 2 is owned by another member
//
// and the first transaction after it aborts although nothing it touched
// moved. The loop therefore runs the client with BlockRebalanceOnPoll:
//
//   - rebalance callbacks (assigned, revoked, lost) run only between
//     AllowRebalance and the next poll returning; a poll that returns (with
//     records, empty, or canceled) blocks them again;
//   - the loop calls AllowRebalance only when no transaction is open, so
//     procs cannot change while a transaction or an idle flush runs;
//   - drop sets p.rebalanced and cancels the poll in progress, so the poll
//     returns (blocking further callbacks) as soon as the callback is done;
//   - after the poll, with p.rebalanced set and no transaction open, the
//     loop ends the session's (empty) transaction with TryAbort, which
//     resets the session's flag, before it processes anything. End(TryAbort)
//     also rewinds the consumer to the committed offsets, so the records of
//     that poll are dropped and fetched again: nothing was processed past
//     the committed offsets, because no transaction was open.
//
// A second revocation would be lost only if it ran between the first
// callback returning and the poll taking its block back: a window of a
// canceled select, while a second revocation needs another JoinGroup and
// SyncGroup round trip. The idle flush closes that window too: before it
// flushes, it asks the group coordinator (DescribeGroups) and flushes only
// partitions assigned to this member in a Stable group. A partition can
// reach another member only in a later generation, after this member has
// revoked it, and revocation cannot run while the flush holds the poll.
// The remaining case, this member being kicked out of the group for missing
// the session or rebalance timeout, fails the flush's offset commit with
// ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID when the transaction commits
// offsets; RebalanceTimeout is 2×TransactionTimeout+10s so that ending a
// transaction never outlasts it.

// drop forgets the state of revoked or lost partitions.
func (p *Pipeline) drop(why string) func(context.Context, *kgo.Client, map[string][]int32) {
	return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
		defer p.updateStateGauges()
		p.mu.Lock()
		defer p.mu.Unlock()
		n := 0
		for t, ps := range m {
			for _, part := range ps {
				n++
				tp := partition.TP{Topic: t, Partition: part}
				if _, ok := p.procs[tp]; ok {
					delete(p.procs, tp)
					p.log.Info("partition "+why, "topic", t, "partition", part)
				}
				p.m.ConsumerLag.DeleteLabelValues(t, strconv.Itoa(int(part)))
				p.health.Unassigned(tp)
			}
		}
		if n > 0 || why == "lost" {
			p.rebalanced.Store(true)
			p.cancelPoll()
		}
		if why == "lost" {
			p.health.GroupLost()
		}
	}
}

// assigned is registered so that the assign phase, too, runs only while the
// loop allows rebalances; state is restored in AdjustFetchOffsetsFn.
func (p *Pipeline) assigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	p.health.Joined()
	for t, ps := range m {
		for _, part := range ps {
			p.log.Debug("partition assigned", "topic", t, "partition", part)
		}
	}
}

func (p *Pipeline) setPollCancel(c context.CancelFunc) {
	p.pollMu.Lock()
	p.pollCancel = c
	p.pollMu.Unlock()
}

func (p *Pipeline) cancelPoll() {
	p.pollMu.Lock()
	if p.pollCancel != nil {
		p.pollCancel()
	}
	p.pollMu.Unlock()
}

// resetSession ends the session's empty transaction so that its revoked and
// lost flags are reset; it must run with no transaction open.
func (p *Pipeline) resetSession(ctx context.Context) error {
	p.rebalanced.Store(false)
	if p.sess == nil {
		return nil
	}
	ectx, cancel := context.WithTimeout(ctx, 2*p.cfg.TransactionTimeout)
	defer cancel()
	if _, err := p.sess.End(ectx, kgo.TryAbort); err != nil {
		return p.classify("reset the transactional session after a rebalance", err)
	}
	p.log.Debug("session reset after a rebalance")
	return nil
}

// ownedNow asks the group coordinator which of tps are assigned to this
// member in a Stable group. On any doubt it returns none.
func (p *Pipeline) ownedNow(ctx context.Context, tps []partition.TP) (map[partition.TP]bool, error) {
	member, _ := p.cl.GroupMetadata()
	if member == "" {
		return nil, fmt.Errorf("not a group member")
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	gs, err := p.adm.DescribeGroups(dctx, p.cfg.Group)
	if err != nil {
		return nil, err
	}
	g, ok := gs[p.cfg.Group]
	if !ok {
		return nil, fmt.Errorf("group %q not described", p.cfg.Group)
	}
	if g.Err != nil {
		return nil, g.Err
	}
	if g.State != "Stable" {
		return nil, fmt.Errorf("group %q is %s", p.cfg.Group, g.State)
	}
	for _, m := range g.Members {
		if m.MemberID != member {
			continue
		}
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			return nil, fmt.Errorf("member %s has no consumer assignment", member)
		}
		assigned := map[partition.TP]bool{}
		for _, t := range c.Topics {
			for _, part := range t.Partitions {
				assigned[partition.TP{Topic: t.Topic, Partition: part}] = true
			}
		}
		out := map[partition.TP]bool{}
		for _, tp := range tps {
			if assigned[tp] {
				out[tp] = true
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("member %s is not in group %q", member, p.cfg.Group)
}
