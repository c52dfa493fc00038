package elasticsearch

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the sink, registered under eqlstream_es_sink_*.
type Metrics struct {
	Indexed      prometheus.Counter
	DeadLetters  *prometheus.CounterVec
	Bulk         *prometheus.CounterVec
	BulkSeconds  prometheus.Histogram
	Retries      prometheus.Counter
	Batches      prometheus.Counter
	LastCommitTS prometheus.Gauge
}

// NewMetrics registers the sink's metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Indexed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "eqlstream", Subsystem: "es_sink", Name: "indexed_total",
			Help: "Alert documents Elasticsearch accepted (created or overwritten by _id)."}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "eqlstream", Subsystem: "es_sink", Name: "dead_letters_total",
			Help: "Records written to the dead-letter topic, by reason."}, []string{"reason"}),
		Bulk: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "eqlstream", Subsystem: "es_sink", Name: "bulk_requests_total",
			Help: "Bulk requests by outcome (ok, partial, error)."}, []string{"outcome"}),
		BulkSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "eqlstream", Subsystem: "es_sink", Name: "bulk_seconds",
			Help: "Duration of bulk requests.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		Retries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "eqlstream", Subsystem: "es_sink", Name: "retries_total",
			Help: "Bulk attempts repeated after a transient failure (unreachable, 429, 5xx)."}),
		Batches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "eqlstream", Subsystem: "es_sink", Name: "batches_committed_total",
			Help: "Batches whose offsets were committed after indexing."}),
		LastCommitTS: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "eqlstream", Subsystem: "es_sink", Name: "last_commit_timestamp_seconds",
			Help: "Unix time of the last offset commit."}),
	}
	for _, o := range []string{"ok", "partial", "error"} {
		m.Bulk.WithLabelValues(o)
	}
	for _, r := range []string{ReasonRejected, ReasonNoID, ReasonNotJSON} {
		m.DeadLetters.WithLabelValues(r)
	}
	reg.MustRegister(m.Indexed, m.DeadLetters, m.Bulk, m.BulkSeconds, m.Retries, m.Batches, m.LastCommitTS)
	return m
}
