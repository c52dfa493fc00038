package pipeline

import (
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus metrics.
type Metrics struct {
	EventsIn       *prometheus.CounterVec
	EventsReplayed *prometheus.CounterVec
	TxnAborts      *prometheus.CounterVec
	AlertsOut      *prometheus.CounterVec
	DeadLetters    *prometheus.CounterVec
	LateEvents     prometheus.Counter
	KeyMismatch    prometheus.Counter
	LiveStates     prometheus.Gauge
	Buffered       prometheus.Gauge
	Evictions      prometheus.Counter
	Txns           *prometheus.CounterVec
	TxnDuration    prometheus.Histogram
	AlertLatency   prometheus.Histogram
	ConsumerLag    *prometheus.GaugeVec
	Restores       prometheus.Counter
	RestoreRecords prometheus.Counter
	// Tuning counts exclusions and suppressions (suppress.go).
	Tuning tuningMetrics
}

// topicCounters are the per-topic counters of one input topic; the
// pipeline keeps them (a label lookup per record costs a hash and a lock).
type topicCounters struct{ in, replayed prometheus.Counter }

func (m *Metrics) topicCounters(t string) topicCounters {
	return topicCounters{m.EventsIn.WithLabelValues(t), m.EventsReplayed.WithLabelValues(t)}
}

// NewMetrics registers the metrics with reg (nil: a private registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	const ns = "eqlstream"
	m := &Metrics{
		EventsIn:       prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_in_total", Help: "Input records evaluated, by input topic; each offset counts once."}, []string{"topic"}),
		EventsReplayed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_replayed_total", Help: "Input records evaluated again after an aborted transaction, by input topic."}, []string{"topic"}),
		TxnAborts:      prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "transaction_aborts_total", Help: "Aborted transactions, by cause (produce_error, commit_refused, fatal_error)."}, []string{"cause"}),
		AlertsOut:      prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "alerts_out_total", Help: "Alerts committed, by rule."}, []string{"rule_id", "rule_name"}),
		DeadLetters:    prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dead_letters_total", Help: "Records sent to the dead-letter topic, by reason."}, []string{"reason"}),
		LateEvents:     prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "late_events_total", Help: "Events older than the watermark on arrival."}),
		KeyMismatch:    prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "key_mismatch_total", Help: "Events whose record key is not their host.id."}),
		LiveStates:     prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "live_sequence_states", Help: "Pending partial matches over all assigned partitions."}),
		Buffered:       prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "reorder_buffered", Help: "Stage hits waiting in the reorder buffers of the assigned partitions (released as the watermark passes them or by the idle flush)."}),
		Evictions:      prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "state_evictions_total", Help: "Partial matches evicted by the state bound."}),
		Txns:           prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "transactions_total", Help: "Transactions ended, by outcome."}, []string{"outcome"}),
		TxnDuration:    prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "transaction_duration_seconds", Help: "Begin to end of a transaction.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		AlertLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "event_to_alert_seconds", Help: "From the last matched event's record timestamp to the alert's commit.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		ConsumerLag:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "consumer_lag_records", Help: "High watermark minus next offset, per assigned partition."}, []string{"topic", "partition"}),
		Restores:       prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "state_restores_total", Help: "Partitions restored from the state topic."}),
		RestoreRecords: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "state_restore_records_total", Help: "State records read while restoring."}),
	}
	reg.MustRegister(m.EventsIn, m.EventsReplayed, m.TxnAborts, m.AlertsOut, m.DeadLetters, m.LateEvents, m.KeyMismatch, m.LiveStates, m.Buffered, m.Evictions,
		m.Txns, m.TxnDuration, m.AlertLatency, m.ConsumerLag, m.Restores, m.RestoreRecords)
	m.Tuning = newTuningMetrics(reg)
	// Known label values start at 0, so that dashboards and alert rules
	// see every series from the first scrape (a vector shows nothing until
	// its first observation).
	for _, c := range []string{causeProduce, causeCommitRefused, causeFatal} {
		m.TxnAborts.WithLabelValues(c)
	}
	for _, r := range []string{engine.ReasonMalformed, engine.ReasonNotObject, engine.ReasonTooDeep, engine.ReasonTooLarge,
		engine.ReasonNoTime, engine.ReasonBadTime, "missing_host_id"} {
		m.DeadLetters.WithLabelValues(r)
	}
	for _, o := range []string{"committed", "aborted", "error"} {
		m.Txns.WithLabelValues(o)
	}
	return m
}

// initTopics starts the per-topic counters of the input topics at 0.
func (m *Metrics) initTopics(topics []string) {
	for _, t := range topics {
		m.topicCounters(t)
	}
}
