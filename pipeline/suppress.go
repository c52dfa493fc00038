package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/eqlstream/eqlstream/partition"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/suppress"
	"github.com/eqlstream/eqlstream/sinks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tuningMetrics count what exception lists and alert suppression did.
type tuningMetrics struct {
	Excluded   *prometheus.CounterVec // events excluded, by rule and list
	Suppressed *prometheus.CounterVec // alerts suppressed, by rule
	Summaries  *prometheus.CounterVec // suppression summaries produced, by rule
}

func newTuningMetrics(reg prometheus.Registerer) tuningMetrics {
	const ns = "eqlstream"
	t := tuningMetrics{
		Excluded: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "exception_excluded_events_total",
			Help: "Events that took no part in a rule's search because they matched one of its exception lists, by rule and list (committed transactions)."}, []string{"rule_id", "list_id"}),
		Suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "alerts_suppressed_total",
			Help: "Alerts counted in a suppression window instead of being produced, by rule (committed transactions)."}, []string{"rule_id", "rule_name"}),
		Summaries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "suppression_summaries_total",
			Help: "Summary alerts of closed suppression windows produced, by rule (committed transactions)."}, []string{"rule_id", "rule_name"}),
	}
	reg.MustRegister(t.Excluded, t.Suppressed, t.Summaries)
	return t
}

// initRules starts the per-rule series of the rule set at 0.
func (m *Metrics) initRules(set *rules.RuleSet) {
	if set == nil || set.Program == nil {
		return
	}
	e := set.Program.NewEngine()
	for _, x := range e.ExcludedCounts() {
		m.Tuning.Excluded.WithLabelValues(x.RuleID, x.List)
	}
	for _, er := range set.Program.Rules() {
		r := set.Rule(er)
		if r == nil {
			continue
		}
		m.AlertsOut.WithLabelValues(r.ID, r.Name)
		if r.AlertSuppression != nil {
			m.Tuning.Suppressed.WithLabelValues(r.ID, r.Name)
			m.Tuning.Summaries.WithLabelValues(r.ID, r.Name)
		}
	}
}

// txnTuning is what a transaction suppressed, summarized and excluded,
// counted when it commits.
type txnTuning struct {
	suppressed map[*rules.Rule]int
	summaries  map[*rules.Rule]int
}

// emitAlert passes one alert (its documents: one, or Elastic's shell and
// building blocks) through the partition's suppression and produces what
// comes out: a group's documents in the same transaction, keyed alike,
// counted once.
func (p *Pipeline) emitAlert(ctx context.Context, t *txn, proc *partition.Processor, m engine.Match, docs []rules.AlertDoc, rec *kgo.Record) error {
	outs, dec, err := proc.Suppress.ApplyDocs(m, docs)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrFatal, proc.TP, err)
	}
	r := p.set.Rule(m.Rule)
	if dec == suppress.Suppressed {
		t.tuning.count(&t.tuning.suppressed, r)
	}
	p.produceOutputs(ctx, t, outs, r, rec)
	return nil
}

// closeWindows produces the summaries of the suppression windows the
// partition's watermark has passed.
func (p *Pipeline) closeWindows(ctx context.Context, t *txn, proc *partition.Processor, rec *kgo.Record) {
	if !proc.Suppress.Active() {
		return
	}
	p.produceOutputs(ctx, t, proc.Suppress.Close(proc.Engine.Watermark()), nil, rec)
}

func (p *Pipeline) produceOutputs(ctx context.Context, t *txn, outs []suppress.Output, r *rules.Rule, rec *kgo.Record) {
	var groupKey []byte // the key of the alert a group's members follow
	for _, o := range outs {
		rr := r
		if o.Rule != nil {
			rr = o.Rule
		}
		if o.Summary {
			t.tuning.count(&t.tuning.summaries, rr)
		}
		var key []byte
		var ts time.Time
		if rec != nil {
			key, ts = rec.Key, rec.Timestamp
		}
		if host, ok := alertHost(o.Doc); ok {
			key = []byte(host)
		} else if o.Member {
			key = groupKey
		}
		p.produce(ctx, t, sinks.AlertRecord(p.cfg.AlertsTopic, key, o.Doc, rr.ID, o.ID))
		if o.Member {
			continue
		}
		groupKey = key
		t.alerts = append(t.alerts, o.Doc)
		t.alertTs = append(t.alertTs, ts)
		t.alertIDs = append(t.alertIDs, o.ID)
		t.rules = append(t.rules, rr)
	}
}

func (tt *txnTuning) count(m *map[*rules.Rule]int, r *rules.Rule) {
	if *m == nil {
		*m = map[*rules.Rule]int{}
	}
	(*m)[r]++
}

// tuningCommitted counts a committed transaction's exclusions (read from
// the touched partitions before Committed), suppressions and summaries.
func (p *Pipeline) tuningCommitted(t *txn, excluded []engine.ExclusionCount) {
	for _, x := range excluded {
		p.m.Tuning.Excluded.WithLabelValues(x.RuleID, x.List).Add(float64(x.Events))
	}
	for r, n := range t.tuning.suppressed {
		p.m.Tuning.Suppressed.WithLabelValues(r.ID, r.Name).Add(float64(n))
	}
	for r, n := range t.tuning.summaries {
		p.m.Tuning.Summaries.WithLabelValues(r.ID, r.Name).Add(float64(n))
	}
}
