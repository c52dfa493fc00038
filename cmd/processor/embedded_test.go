package main

import (
	"bytes"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
)

// TestRunEmbedded runs README's first command (`processor run --embedded`,
// smaller) and checks what it promises: it ends by itself, exit 0, every
// event processed, and the alerts it prints are exactly those `processor
// eval` raises over the same generated stream (same IDs, each once).
func TestRunEmbedded(t *testing.T) {
	const events = 4000
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cmdRun([]string{"--embedded", "--embedded-events", "4000", "--metrics-addr", ""}, &out, &errb)
	}()
	var code int
	select {
	case code = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("run --embedded did not stop by itself within 3m\nstderr:\n%s", errb.String())
	}
	if code != exitOK {
		t.Fatalf("run --embedded: exit %d\nstderr:\n%s", code, errb.String())
	}
	if !regexp.MustCompile(`(?m)^eqlstream: 4000 events processed exactly once in \S+, \d+ alerts:$`).MatchString(errb.String()) {
		t.Errorf("summary line missing:\n%s", errb.String())
	}
	alertLine := regexp.MustCompile(`^ALERT ([0-9a-f]{16}) `)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		m := alertLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not an alert line: %q", l)
		}
		got = append(got, m[1])
	}

	// The same stream as runEmbedded generates, evaluated offline.
	g, err := gen.New(gen.Config{Seed: 1, Events: events, Hosts: 25, AttackRate: 0.02, LookalikeRate: 0.03,
		Disorder: 500 * time.Millisecond, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	if _, err := g.WriteNDJSON(&stream); err != nil {
		t.Fatal(err)
	}
	r := eval(t, stream.Bytes(), "--quiet")
	if r.code != exitOK {
		t.Fatalf("eval: exit %d: %s", r.code, r.stderr)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		id := regexp.MustCompile(`"kibana.alert.uuid":"([0-9a-f]+)"`).FindStringSubmatch(l)
		if id == nil {
			t.Fatalf("eval alert without kibana.alert.uuid: %s", l)
		}
		want = append(want, id[1])
	}
	if len(want) == 0 {
		t.Fatal("eval raised no alerts: the comparison would prove nothing")
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("embedded alerts differ from eval over the same stream:\nembedded (%d): %v\neval     (%d): %v", len(got), got, len(want), want)
	}
}
