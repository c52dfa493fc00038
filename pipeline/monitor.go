package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eqlstream/eqlstream/faults"
	"github.com/eqlstream/eqlstream/partition"
	"github.com/twmb/franz-go/pkg/kadm"
)

// monitor asks the brokers, every BrokerBound/5, for the input topics' end
// offsets (consumer lag of every assigned partition, and the broker round
// trip readiness needs) and whether every topic still exists. It stops when
// ctx ends; errors that cannot heal are stored in p.fatal for the loop.
func (p *Pipeline) monitor(ctx context.Context) {
	every := max(p.cfg.BrokerBound/5, 200*time.Millisecond)
	tick := time.NewTicker(every)
	defer tick.Stop()
	all := append(append([]string{}, p.cfg.InputTopics...), p.cfg.AlertsTopic, p.cfg.DLQTopic, p.cfg.StateTopic)
	for {
		if err := p.probe(ctx, every, all); err != nil && p.fatal.CompareAndSwap(nil, &err) {
			p.cancelPoll()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *Pipeline) probe(ctx context.Context, timeout time.Duration, all []string) error {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ends, err := p.adm.ListEndOffsets(pctx, p.cfg.InputTopics...)
	if err == nil {
		err = ends.Error()
	}
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		p.health.Broker(err)
		return p.probeFatal(err, "Describe", strings.Join(p.cfg.InputTopics, ","))
	}
	m := map[partition.TP]int64{}
	ends.Each(func(o kadm.ListedOffset) { m[partition.TP{Topic: o.Topic, Partition: o.Partition}] = o.Offset })
	p.ends.Store(&m)
	details, err := p.adm.ListTopics(pctx, all...)
	if err != nil {
		p.health.Broker(err)
		return p.probeFatal(err, "Describe", "")
	}
	p.health.Broker(nil)
	for _, t := range all {
		d, ok := details[t]
		switch {
		case ok && d.Err == nil:
			p.topicsSeen(t)
		case ok && faults.IsUnknownTopic(d.Err), !ok:
			derr := d.Err
			if derr == nil {
				derr = errors.New("not in metadata")
			}
			if err := p.topicMissing(t, derr); err != nil {
				return err
			}
		default:
			if f := faults.Classify(d.Err, p.scope("Describe", t)); f != nil {
				return fmt.Errorf("%w: %w", ErrFatal, f)
			}
		}
	}
	return nil
}

func (p *Pipeline) probeFatal(err error, op, topic string) error {
	if f := faults.Classify(err, p.scope(op, topic)); f != nil {
		return fmt.Errorf("%w: %w", ErrFatal, f)
	}
	return nil
}

// noteHighWatermark keeps the high watermark a fetch reported (loop only).
func (p *Pipeline) noteHighWatermark(tp partition.TP, hw int64) {
	if p.hw == nil {
		p.hw = map[partition.TP]int64{}
	}
	p.hw[tp] = hw
}

// updateLag exports consumer lag for every assigned partition, at most once
// a second (loop only: it reads the processors' next offsets).
func (p *Pipeline) updateLag() {
	if time.Since(p.lastLag) < time.Second {
		return
	}
	p.lastLag = time.Now()
	var ends map[partition.TP]int64
	if e := p.ends.Load(); e != nil {
		ends = *e
	}
	pending := false
	p.mu.Lock()
	for tp, proc := range p.procs {
		end, ok := ends[tp]
		if hw, ok2 := p.hw[tp]; ok2 && (!ok || hw > end) {
			end, ok = hw, true
		}
		if !ok {
			continue
		}
		lag := max(end-proc.Next, 0)
		if lag > 0 {
			pending = true
		}
		p.m.ConsumerLag.WithLabelValues(tp.Topic, strconv.Itoa(int(tp.Partition))).Set(float64(lag))
	}
	p.mu.Unlock()
	p.health.Pending(pending)
}

// lagAtAssignment exports the lag of newly restored partitions at once.
func (p *Pipeline) lagAtAssignment(ctx context.Context, procs map[partition.TP]*partition.Processor) {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ends, err := p.adm.ListEndOffsets(lctx, p.cfg.InputTopics...)
	if err != nil {
		return
	}
	for tp, proc := range procs {
		if e, ok := ends.Lookup(tp.Topic, tp.Partition); ok && e.Err == nil {
			p.m.ConsumerLag.WithLabelValues(tp.Topic, strconv.Itoa(int(tp.Partition))).Set(float64(max(e.Offset-proc.Next, 0)))
		}
	}
}
