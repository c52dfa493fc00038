package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// statusSnapshot sums what the one-line status reports, from the same
// registry /metrics serves (so the log and the metrics never disagree).
type statusSnapshot struct {
	events, alerts, committed, aborted, deadLetters, lag, states float64
}

func takeStatus(g prometheus.Gatherer) statusSnapshot {
	var s statusSnapshot
	mfs, err := g.Gather()
	if err != nil {
		return s
	}
	sum := func(mf *dto.MetricFamily, match func(*dto.Metric) bool) float64 {
		t := 0.0
		for _, m := range mf.GetMetric() {
			if match != nil && !match(m) {
				continue
			}
			switch {
			case m.Counter != nil:
				t += m.Counter.GetValue()
			case m.Gauge != nil:
				t += m.Gauge.GetValue()
			}
		}
		return t
	}
	label := func(name, value string) func(*dto.Metric) bool {
		return func(m *dto.Metric) bool {
			for _, l := range m.GetLabel() {
				if l.GetName() == name {
					return l.GetValue() == value
				}
			}
			return false
		}
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "eqlstream_events_in_total":
			s.events = sum(mf, nil)
		case "eqlstream_alerts_out_total":
			s.alerts = sum(mf, nil)
		case "eqlstream_transactions_total":
			s.committed = sum(mf, label("outcome", "committed"))
			s.aborted = sum(mf, label("outcome", "aborted"))
		case "eqlstream_dead_letters_total":
			s.deadLetters = sum(mf, nil)
		case "eqlstream_consumer_lag_records":
			s.lag = sum(mf, nil)
		case "eqlstream_live_sequence_states":
			s.states = sum(mf, nil)
		}
	}
	return s
}

// logStatus logs one status line every interval at info until ctx ends:
// throughput since the last line, lag, totals and state size, or that the
// instance is waiting for data.
func logStatus(ctx context.Context, log *slog.Logger, g prometheus.Gatherer, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	prev := takeStatus(g)
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s := takeStatus(g)
			rate := (s.events - prev.events) / now.Sub(last).Seconds()
			attrs := []any{"events_per_s", int64(rate + 0.5), "lag", int64(s.lag), "events", int64(s.events),
				"alerts", int64(s.alerts), "dead_letters", int64(s.deadLetters), "transactions", int64(s.committed),
				"aborted", int64(s.aborted), "live_states", int64(s.states)}
			if s.events == prev.events && s.lag == 0 {
				log.Info("status: caught up, waiting for data", attrs...)
			} else {
				log.Info("status", attrs...)
			}
			prev, last = s, now
		}
	}
}
