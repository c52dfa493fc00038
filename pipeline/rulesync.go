package pipeline

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/eqlstream/eqlstream/faults"
	"github.com/eqlstream/eqlstream/partition"
	"github.com/eqlstream/eqlstream/rules"
)

// ruleSet is the rule set partitions restored now start with.
func (p *Pipeline) ruleSet() *rules.RuleSet {
	p.setMu.Lock()
	defer p.setMu.Unlock()
	return p.set
}

// syncRules runs between transactions. It switches to the live rule set's
// newest revision, migrates every partition whose engine runs another
// program (a live change, or a partition restored while the set changed),
// and commits the partitions with a change to record (state of changed or
// deleted rules to delete, a new revision) in a transaction of their own,
// so the change takes effect at the same input offset as it is recorded.
func (p *Pipeline) syncRules(ctx context.Context, t *txn) error {
	if p.cfg.LiveRules != nil {
		if cur := p.cfg.LiveRules.Current(); cur != nil && cur != p.set {
			p.setMu.Lock()
			old := p.set
			p.set = cur
			p.setMu.Unlock()
			p.m.initRules(cur)
			p.log.Info("rule set switched at a transaction boundary", "revision", cur.Revision, "previous", old.Revision, "rules", len(cur.Program.Rules()))
		}
	}
	p.mu.Lock()
	var pending []*partition.Processor
	for _, proc := range p.procs {
		p.onCurrentRules(proc)
		if proc.NeedsCommit() {
			pending = append(pending, proc)
		}
	}
	p.mu.Unlock()
	if len(pending) == 0 || time.Since(p.lastRulesCommit) < p.cfg.CommitInterval {
		return nil
	}
	p.lastRulesCommit = time.Now()
	sort.Slice(pending, func(i, j int) bool { return pending[i].TP.String() < pending[j].TP.String() })
	// As for an idle flush: write state only for partitions the group
	// coordinator assigns to this member; on doubt, later.
	tps := make([]partition.TP, len(pending))
	for i, proc := range pending {
		tps[i] = proc.TP
	}
	owned, err := p.ownedNow(ctx, tps)
	if err != nil {
		if f := faults.Classify(err, p.scope("Describe", "")); f != nil {
			return fmt.Errorf("%w: describing the group before a rule-set change: %w", ErrFatal, f)
		}
		p.log.Debug("rule-set change postponed: group ownership not confirmed", "err", err)
		return nil
	}
	mine := pending[:0]
	for _, proc := range pending {
		if owned[proc.TP] {
			mine = append(mine, proc)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	if err := p.begin(t); err != nil {
		return p.classify("begin transaction", err)
	}
	for _, proc := range mine {
		t.touched[proc] = struct{}{}
		proc.Begin()
		p.log.Info("rule-set change committed with the partition's state", "topic", proc.TP.Topic, "partition", proc.TP.Partition,
			"revision", proc.Revision, "from_offset", proc.RulesFrom)
	}
	return p.end(ctx, t)
}

// onCurrentRules migrates a partition that a transaction is about to touch
// for the first time, if it was restored with an earlier rule set while the
// loop switched (the restore runs in the client's goroutine): its state is
// the committed one, so this is a boundary for it, and the change commits
// with the transaction.
func (p *Pipeline) onCurrentRules(proc *partition.Processor) {
	if proc.Engine.Program() != p.set.Program {
		proc.Migrate(p.set)
	}
}
