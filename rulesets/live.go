package rulesets

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the rule set's metrics.
type Metrics struct {
	Revision       prometheus.Gauge
	RuleErrors     prometheus.Gauge
	Loaded         *prometheus.GaugeVec
	LastChange     prometheus.Gauge
	ReloadFailures prometheus.Counter
	Changes        prometheus.Counter
}

// NewMetrics registers the metrics in reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Revision: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "eqlstream", Name: "rules_revision",
			Help: "The rule-set revision this instance runs: the rules topic offset it was read up to (files: the number of loads applied)."}),
		RuleErrors: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "eqlstream", Name: "rule_errors",
			Help: "Rules (and exception lists) of the latest revision read that do not compile; while > 0 and a good revision ran before, the instance keeps running it."}),
		Loaded: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "eqlstream", Name: "rules_loaded",
			Help: "Rules running, by kind (event, sequence, sample)."}, []string{"kind"}),
		LastChange: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "eqlstream", Name: "rules_last_change_timestamp_seconds",
			Help: "When the running rule set last changed (Unix seconds)."}),
		ReloadFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "eqlstream", Name: "rules_reload_failures_total",
			Help: "Revisions read that were not applied because a rule did not compile (or files that could not be read)."}),
		Changes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "eqlstream", Name: "rules_changes_total",
			Help: "Rule-set revisions applied after the first."}),
	}
	for _, k := range []string{"event", "sequence", "sample"} {
		m.Loaded.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(m.Revision, m.RuleErrors, m.Loaded, m.LastChange, m.ReloadFailures, m.Changes)
	}
	return m
}

// Live is the rule set an instance runs, replaced as revisions arrive.
// Current is safe for concurrent use.
type Live struct {
	log *slog.Logger
	m   *Metrics

	mu     sync.Mutex
	cur    *rules.RuleSet
	errs   []error // of the latest revision read
	loads  int
	change chan struct{} // closed and replaced at each change
}

// NewLive returns a Live with no rule set yet.
func NewLive(log *slog.Logger, m *Metrics) *Live {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Live{log: log, m: m, change: make(chan struct{})}
}

// Current returns the running rule set (nil before the first).
func (l *Live) Current() *rules.RuleSet {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}

// Changed returns a channel closed at the next change.
func (l *Live) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.change
}

// Errors returns the errors of the latest revision read.
func (l *Live) Errors() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// Offer proposes a revision built with errs (rules left out). It runs if
// every rule compiled, or if nothing runs yet (then without the failed
// rules); otherwise the running revision stays and the errors are
// reported. It reports whether the set now runs.
func (l *Live) Offer(set *rules.RuleSet, errs []error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = errs
	l.m.RuleErrors.Set(float64(len(errs)))
	for _, e := range errs {
		l.log.Error("rule does not compile", "revision", set.Revision, "err", e)
	}
	if len(errs) > 0 && l.cur != nil {
		l.m.ReloadFailures.Inc()
		l.log.Error("rule-set revision not applied: it has rules that do not compile; the running revision stays",
			"revision", set.Revision, "running", l.cur.Revision, "errors", len(errs))
		return false
	}
	if l.cur != nil && l.cur.Revision == set.Revision {
		return false
	}
	if l.cur != nil {
		l.m.Changes.Inc()
	}
	old := l.cur
	l.cur = set
	l.loads++
	if n, err := strconv.ParseUint(set.Revision, 10, 63); err == nil {
		l.m.Revision.Set(float64(n))
	} else {
		l.m.Revision.Set(float64(l.loads))
	}
	kinds := map[string]int{"event": 0, "sequence": 0, "sample": 0}
	for _, r := range set.Program.Rules() {
		kinds[r.Kind.String()]++
	}
	for k, n := range kinds {
		l.m.Loaded.WithLabelValues(k).Set(float64(n))
	}
	l.m.LastChange.Set(float64(time.Now().UnixNano()) / 1e9)
	attrs := []any{"revision", set.Revision, "rules", len(set.Program.Rules())}
	if old != nil {
		d := DiffSets(old, set)
		attrs = append(attrs, "previous", old.Revision, "added", d.Added, "changed", d.Changed, "deleted", d.Deleted, "metadata_only", d.Metadata)
	}
	l.log.Info("rule set applied", attrs...)
	close(l.change)
	l.change = make(chan struct{})
	return true
}

// Diff says how two rule sets differ, by rule_id.
type Diff struct {
	Added, Changed, Deleted []string
	// Metadata: same fingerprint (state kept), other alert metadata.
	Metadata []string
}

// DiffSets compares compiled sets by fingerprint and rule version.
func DiffSets(old, cur *rules.RuleSet) Diff {
	var d Diff
	of, nf := Fingerprints(old), Fingerprints(cur)
	for _, r := range cur.Program.Rules() {
		fp, ok := of[r.ID]
		switch {
		case !ok:
			d.Added = append(d.Added, r.ID)
		case fp != r.Fingerprint:
			d.Changed = append(d.Changed, r.ID)
		default:
			if o := old.Program.RuleByID(r.ID); o != nil && old.Rule(o).Version != cur.Rule(r).Version {
				d.Metadata = append(d.Metadata, r.ID)
			}
		}
	}
	for _, r := range old.Program.Rules() {
		if _, ok := nf[r.ID]; !ok {
			d.Deleted = append(d.Deleted, r.ID)
		}
	}
	return d
}
