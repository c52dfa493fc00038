package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eqlstream/eqlstream/faults"
	"github.com/eqlstream/eqlstream/partition"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restore runs when partitions are assigned, after their committed offsets
// are fetched and before fetching starts: it rebuilds each partition's
// engine from the state topic and checks that the state's next offset is
// the committed offset.
func (p *Pipeline) restore(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var tps []fmt.Stringer
	for t, ps := range offsets {
		for part := range ps {
			tps = append(tps, partition.TP{Topic: t, Partition: part})
		}
	}
	p.health.Restoring(tps...)
	defer p.health.Restored(tps...)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		procs, adjusted, err := p.restoreOnce(ctx, offsets)
		if err == nil {
			p.mu.Lock()
			for tp, proc := range procs {
				p.procs[tp] = proc
			}
			p.mu.Unlock()
			p.updateStateGauges()
			p.lagAtAssignment(ctx, procs)
			return adjusted, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return offsets, ctx.Err()
		}
		if f := faults.Classify(err, p.scope("Read", p.cfg.StateTopic)); f != nil {
			// cannot heal: stop at once
			err := fmt.Errorf("restoring state: %w", f)
			p.restoreErr.Store(&err)
			p.cancelPoll()
			return offsets, err
		}
		p.log.Warn("restoring state failed, retrying", "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return offsets, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
		}
	}
	// State and offsets disagree: processing would give wrong results.
	p.restoreErr.Store(&lastErr)
	p.cancelPoll()
	return offsets, lastErr
}

func (p *Pipeline) restoreOnce(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[partition.TP]*partition.Processor, map[string]map[int32]kgo.Offset, error) {
	started := time.Now()
	want := map[int32][]partition.TP{}
	for t, ps := range offsets {
		for part := range ps {
			want[part] = append(want[part], partition.TP{Topic: t, Partition: part})
		}
	}
	if len(want) == 0 {
		return nil, offsets, nil
	}
	restorers := map[partition.TP]*partition.Restorer{}
	for _, tps := range want {
		for _, tp := range tps {
			restorers[tp] = partition.NewRestorer(tp)
		}
	}
	n, err := p.readState(ctx, want, func(key, value []byte) {
		for _, r := range restorers {
			r.Add(key, value)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	p.m.RestoreRecords.Add(float64(n))
	procs := map[partition.TP]*partition.Processor{}
	adjusted := map[string]map[int32]kgo.Offset{}
	for tp, r := range restorers {
		off := offsets[tp.Topic][tp.Partition]
		committed := off.EpochOffset().Offset
		if committed < 0 {
			committed = -1
		}
		check := committed
		if p.cfg.UnsafeAtLeastOnce {
			check = -1 // non-transactional state cannot match the offsets
		}
		proc, err := r.Build(p.ruleSet(), check)
		if err != nil {
			return nil, nil, err
		}
		if p.cfg.UnsafeAtLeastOnce && committed >= 0 {
			proc.Next = committed
			proc.ResetCommitted()
		}
		proc.LastEvent = time.Now() // restored buffers flush after IdleFlush too
		procs[tp] = proc
		if adjusted[tp.Topic] == nil {
			adjusted[tp.Topic] = map[int32]kgo.Offset{}
		}
		if committed < 0 && proc.Next > 0 {
			// no committed offset but state exists: resume where state is
			adjusted[tp.Topic][tp.Partition] = kgo.NewOffset().At(proc.Next)
		} else {
			adjusted[tp.Topic][tp.Partition] = off
		}
		p.m.Restores.Inc()
		p.log.Info("partition assigned, state restored", "topic", tp.Topic, "partition", tp.Partition,
			"next_offset", proc.Next, "live_states", proc.Engine.Stats().LiveStates, "took", time.Since(started).Round(time.Millisecond))
	}
	return procs, adjusted, nil
}

// readState reads the given state partitions from the start to their high
// watermark with read_committed (keeping control records, so the end is seen
// even when the last records are transaction markers).
func (p *Pipeline) readState(ctx context.Context, parts map[int32][]partition.TP, fn func(key, value []byte)) (int, error) {
	ends, err := p.adm.ListEndOffsets(ctx, p.cfg.StateTopic)
	if err != nil {
		return 0, fmt.Errorf("listing state topic end offsets: %w", err)
	}
	starts, err := p.adm.ListStartOffsets(ctx, p.cfg.StateTopic)
	if err != nil {
		return 0, fmt.Errorf("listing state topic start offsets: %w", err)
	}
	need := map[int32]int64{}
	consume := map[int32]kgo.Offset{}
	for part := range parts {
		e, ok := ends.Lookup(p.cfg.StateTopic, part)
		if !ok {
			return 0, fmt.Errorf("state topic %s has no partition %d", p.cfg.StateTopic, part)
		}
		if e.Err != nil {
			return 0, fmt.Errorf("state topic %s partition %d: %w", p.cfg.StateTopic, part, e.Err)
		}
		s, _ := starts.Lookup(p.cfg.StateTopic, part)
		if e.Offset > s.Offset {
			need[part] = e.Offset
			consume[part] = kgo.NewOffset().AtStart()
		}
	}
	if len(need) == 0 {
		return 0, nil
	}
	cl, err := kgo.NewClient(append(p.baseOpts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.cfg.StateTopic: consume}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 2*p.cfg.TransactionTimeout+30*time.Second)
	defer cancel()
	n := 0
	for len(need) > 0 {
		fs := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			return n, fmt.Errorf("reading the state topic: %w (an open transaction may still be pending)", rctx.Err())
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil && !errors.Is(ferr, context.Canceled) {
			return n, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := need[r.Partition]
			if !ok {
				return
			}
			if !r.Attrs.IsControl() {
				fn(r.Key, r.Value)
				n++
			}
			if r.Offset >= end-1 {
				delete(need, r.Partition)
			}
		})
	}
	return n, nil
}

// fetchBody reads one input record by offset: the body of an event that a
// restored partial match refers to.
func (p *Pipeline) fetchBody(ctx context.Context, tp partition.TP, offset int64) ([]byte, error) {
	p.bodyMu.Lock()
	defer p.bodyMu.Unlock()
	if p.bodyCl == nil {
		cl, err := kgo.NewClient(append(p.baseOpts(), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
		if err != nil {
			return nil, err
		}
		p.bodyCl = cl
	}
	cl := p.bodyCl
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{tp.Topic: {tp.Partition: kgo.NewOffset().At(offset)}})
	defer cl.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(fctx)
		if fctx.Err() != nil {
			return nil, fmt.Errorf("record %s@%d not found: %w", tp, offset, fctx.Err())
		}
		var found []byte
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic == tp.Topic && r.Partition == tp.Partition && r.Offset == offset {
				found = r.Value
			}
		})
		if found != nil {
			return found, nil
		}
	}
}

// checkTopics verifies (or creates, with CreateTopics) the topics.
func (p *Pipeline) checkTopics(ctx context.Context) error {
	cfg := p.cfg
	all := append(append([]string{}, cfg.InputTopics...), cfg.AlertsTopic, cfg.DLQTopic, cfg.StateTopic)
	details, err := p.adm.ListTopics(ctx, all...)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	var missing []string
	for _, t := range all {
		if d, ok := details[t]; !ok || d.Err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		if !cfg.CreateTopics {
			return fmt.Errorf("topics missing: %v (create them, or run with --create-topics)", missing)
		}
		for _, t := range missing {
			configs := map[string]*string{}
			if t == cfg.StateTopic {
				compact := "compact"
				configs["cleanup.policy"] = &compact
			}
			parts := cfg.Partitions
			if t == cfg.StateTopic {
				// the state topic mirrors the input's partition count
				for _, in := range cfg.InputTopics {
					if d, ok := details[in]; ok && d.Err == nil {
						parts = int32(len(d.Partitions))
					}
				}
			}
			resp, err := p.adm.CreateTopic(ctx, parts, cfg.ReplicationFactor, configs, t)
			if err != nil || (resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists)) {
				return fmt.Errorf("creating topic %s: %w", t, errors.Join(err, resp.Err))
			}
			p.log.Info("topic created", "topic", t, "partitions", parts, "replication_factor", cfg.ReplicationFactor)
		}
		// wait until the new topics are visible with their partitions (the
		// client's metadata can lag behind a successful create by seconds)
		deadline := time.Now().Add(30 * time.Second)
		for {
			details, err = p.adm.ListTopics(ctx, all...)
			if err != nil {
				return err
			}
			visible := true
			for _, t := range missing {
				if d, ok := details[t]; !ok || d.Err != nil || len(d.Partitions) == 0 {
					visible = false
				}
			}
			if visible || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	stateParts := len(details[cfg.StateTopic].Partitions)
	for _, in := range cfg.InputTopics {
		if n := len(details[in].Partitions); n != stateParts {
			return fmt.Errorf("state topic %s has %d partitions but input topic %s has %d: they must be equal", cfg.StateTopic, stateParts, in, n)
		}
	}
	rc, err := p.adm.DescribeTopicConfigs(ctx, cfg.StateTopic)
	if err != nil {
		return fmt.Errorf("describing state topic: %w", err)
	}
	for _, c := range rc {
		if c.Err != nil {
			return fmt.Errorf("describing state topic: %w", c.Err)
		}
		for _, kv := range c.Configs {
			if kv.Key == "cleanup.policy" && (kv.Value == nil || !containsCompact(*kv.Value)) {
				v := "<nil>"
				if kv.Value != nil {
					v = *kv.Value
				}
				return fmt.Errorf("state topic %s must be compacted (cleanup.policy=compact), it is %s", cfg.StateTopic, v)
			}
		}
	}
	return nil
}

func containsCompact(s string) bool {
	for _, part := range splitComma(s) {
		if part == "compact" {
			return true
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

var _ = kadm.TopicDetails{}
