package main

import (
	"github.com/eqlstream/eqlstream/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// newRegistry returns the registry /metrics serves — the Go runtime and
// process collectors — and the pipeline's metrics registered in it. A
// pipeline must be built with these metrics for /metrics to show its work.
func newRegistry() (*prometheus.Registry, *pipeline.Metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ver, commit, gov := buildInfo()
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "eqlstream", Name: "build_info",
		Help: "Always 1; the labels say which build runs (as processor version)."}, []string{"version", "commit", "goversion"})
	info.WithLabelValues(ver, commit, gov).Set(1)
	reg.MustRegister(info)
	return reg, pipeline.NewMetrics(reg)
}
