package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The status line reports the work done since the previous one, from the
// registry /metrics serves, and says when the instance waits for data.
func TestStatusLine(t *testing.T) {
	reg, m := newRegistry()
	var out lockedBuffer
	log, _ := newLogger(&out, "info", "text")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { logStatus(ctx, log, reg, 200*time.Millisecond); close(done) }()
	waitFor := func(s string) {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), s) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("waiting for data") // nothing happened yet
	m.EventsIn.WithLabelValues("in").Add(1000)
	m.AlertsOut.WithLabelValues("r1", "Rule one").Add(3)
	waitFor("msg=status ")
	cancel()
	<-done
	got := out.String()
	if !strings.Contains(got, `msg=status events_per_s=`) || !strings.Contains(got, " events=1000 alerts=3 ") {
		t.Errorf("no status line with the events and alerts:\n%s", got)
	}
	if !strings.Contains(got, `msg="status: caught up, waiting for data"`) {
		t.Errorf("no waiting-for-data line once nothing moved:\n%s", got)
	}
}

// /metrics carries eqlstream_build_info with the version processor version
// prints, and every known label value of the pipeline's vectors from the
// start (dashboards and alert rules see them before the first event).
func TestRegistryBuildInfoAndInitialSeries(t *testing.T) {
	reg, _ := newRegistry()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ver, commit, gov := buildInfo()
	found := map[string]int{}
	for _, mf := range mfs {
		found[mf.GetName()] = len(mf.GetMetric())
		if mf.GetName() == "eqlstream_build_info" {
			labels := map[string]string{}
			for _, l := range mf.GetMetric()[0].GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["version"] != ver || labels["commit"] != commit || labels["goversion"] != gov {
				t.Errorf("build_info labels %v, want %s %s %s", labels, ver, commit, gov)
			}
		}
	}
	for name, want := range map[string]int{"eqlstream_build_info": 1, "eqlstream_dead_letters_total": 7,
		"eqlstream_transaction_aborts_total": 3, "eqlstream_transactions_total": 3} {
		if found[name] != want {
			t.Errorf("%s: %d series, want %d", name, found[name], want)
		}
	}
}
