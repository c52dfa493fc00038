package integration

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// groupView is the brokers' view of a stable consumer group: the partitions
// of the input topic assigned to each member, by client ID
// ("eqlstream-<instance id>").
type groupView map[string][]int32

func (g groupView) String() string {
	ids := make([]string, 0, len(g))
	for id := range g {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "%s=%v ", id, g[id])
	}
	return strings.TrimSpace(b.String())
}

// stableGroup returns the group's assignment when the group is Stable with
// exactly the given members and every partition of the input is assigned
// once; otherwise nil.
func (e *env) stableGroup(n names, members ...string) groupView {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gs, err := e.adm.DescribeGroups(ctx, n.Group)
	if err != nil {
		return nil
	}
	g, ok := gs[n.Group]
	if !ok || g.Err != nil || g.State != "Stable" || len(g.Members) != len(members) {
		return nil
	}
	view := groupView{}
	seen := map[int32]bool{}
	for _, m := range g.Members {
		c, ok := m.Assigned.AsConsumer()
		if !ok {
			return nil
		}
		view[m.ClientID] = []int32{}
		for _, t := range c.Topics {
			if t.Topic != n.Input {
				continue
			}
			for _, p := range t.Partitions {
				if seen[p] {
					return nil
				}
				seen[p] = true
				view[m.ClientID] = append(view[m.ClientID], p)
			}
		}
		sort.Slice(view[m.ClientID], func(i, j int) bool { return view[m.ClientID][i] < view[m.ClientID][j] })
	}
	for _, id := range members {
		if _, ok := view["eqlstream-"+id]; !ok {
			return nil
		}
	}
	if len(seen) != partitions {
		return nil
	}
	return view
}

func (e *env) waitStableGroup(n names, timeout time.Duration, alive []*proc, members ...string) groupView {
	e.t.Helper()
	var view groupView
	waitFor(e.t, timeout, fmt.Sprintf("group %s stable with members %v", n.Group, members), func() bool {
		for _, p := range alive {
			p.requireRunning()
		}
		view = e.stableGroup(n, members...)
		return view != nil
	})
	return view
}

var idleFlushRe = regexp.MustCompile(`msg="idle flush" topic=\S+ partition=(\d+)`)

// idleFlushes returns the partitions of the process's "idle flush" log
// lines, in log order.
func (p *proc) idleFlushes() []int32 {
	var out []int32
	for _, m := range idleFlushRe.FindAllStringSubmatch(p.log(), -1) {
		part, _ := strconv.Atoi(m[1])
		out = append(out, int32(part))
	}
	return out
}

// buffered scrapes eqlstream_reorder_buffered (-1 when it cannot).
func (p *proc) buffered(addr string) float64 {
	m, err := p.scrape(addr)
	if err != nil {
		return -1
	}
	return metricValue(m, "eqlstream_reorder_buffered")
}

// TestIdleInstanceNeverFlushesPartitionsItDoesNotOwn: instance a processes
// the whole input and goes idle with events in its partitions' reorder
// buffers (the input ends with the event that completes a sequence, so at
// least one match is released only by an idle flush). While a is idle the
// group rebalances three times: b joins (a gives up half its partitions), c
// joins (a gives up one more), b is killed -9 (a and c take b's over after
// the session timeout). Then a's idle flush runs. a must flush only
// partitions the brokers assign to it, every alert must be committed
// exactly once, and the alerts must equal `processor eval`.
//
// franz-go's GroupTransactSession calls our revoke callback only for the
// first revocation after a transaction ended; an idle instance ends none,
// so without care a keeps the engine of the partition it gave to c and
// flushes it too: alerts twice, and state written for a partition owned
// elsewhere.
//
// a runs with --idle-flush 40s (b and c with the default 2s): the three
// rebalances, with process starts and a 6s session timeout after the kill,
// must all happen while a is idle and before its flush. The bug does not
// depend on the value; 2s is shorter than one process start.
func TestIdleInstanceNeverFlushesPartitionsItDoesNotOwn(t *testing.T) {
	e := newEnv(t)
	n := e.names
	generated, _ := genEvents(t, t.TempDir(), "events.ndjson", false, genArgs("404", 20000)...)
	events, total, last := cutAfterLastSequence(t, generated)
	want := evalAlerts(t, events)
	if len(want) == 0 || want[len(want)-1].ID != last.ID {
		t.Fatalf("eval's alerts (%d) do not end with the sequence the input ends with, %s", len(want), last)
	}
	e.createTopic(n.Input, partitions)
	e.produceFile(events, n.Input)

	session := []string{"--session-timeout", "6s"}
	a := e.startProcessor("a", e.runArgs(n, "it-idle-a", append([]string{"--idle-flush", "40s"}, session...)...)...)
	e.waitCaughtUp(n, 3*time.Minute, a)
	aAddr := a.metricsAddr(10 * time.Second)
	if b := a.buffered(aAddr); b <= 0 {
		t.Fatalf("a has %v stage hits in its reorder buffers after processing %d events; the test needs some", b, total)
	}
	t.Logf("a processed %d events and is idle with %v buffered stage hits", total, a.buffered(aAddr))

	b := e.startProcessor("b", e.runArgs(n, "it-idle-b", session...)...)
	v := e.waitStableGroup(n, 2*time.Minute, []*proc{a, b}, "it-idle-a", "it-idle-b")
	t.Logf("rebalance 1 (b joined): %s", v)
	c := e.startProcessor("c", e.runArgs(n, "it-idle-c", session...)...)
	v = e.waitStableGroup(n, 2*time.Minute, []*proc{a, b, c}, "it-idle-a", "it-idle-b", "it-idle-c")
	t.Logf("rebalance 2 (c joined): %s", v)
	b.kill9()
	settled := e.waitStableGroup(n, 2*time.Minute, []*proc{a, c}, "it-idle-a", "it-idle-c")
	t.Logf("rebalance 3 (b killed): %s", settled)
	if f := a.idleFlushes(); len(f) > 0 {
		t.Fatalf("a flushed %v before the rebalances were over: this machine is too slow for a's --idle-flush 40s", f)
	}

	// a flushes 40s after its last event, and the partitions it took from b
	// 40s after restoring them; c flushes after 2s. Wait until no reorder
	// buffer holds anything.
	cAddr := c.metricsAddr(10 * time.Second)
	waitFor(t, 3*time.Minute, "every reorder buffer to be flushed", func() bool {
		a.requireRunning()
		c.requireRunning()
		return a.buffered(aAddr) == 0 && c.buffered(cAddr) == 0
	})
	e.waitQuiet(5*time.Second, time.Minute, a, n.Alerts, n.State)

	final := e.stableGroup(n, "it-idle-a", "it-idle-c")
	if final.String() != settled.String() {
		t.Errorf("the group rebalanced again while a was flushing: %s, then %s", settled, final)
	}
	owns := map[int32]bool{}
	for _, p := range settled["eqlstream-it-idle-a"] {
		owns[p] = true
	}
	flushed := a.idleFlushes()
	t.Logf("a owns %v and flushed partitions %v", keys(owns), flushed)
	if len(flushed) == 0 {
		t.Errorf("a never ran an idle flush")
	}
	for _, p := range flushed {
		if !owns[p] {
			t.Errorf("a flushed partition %d, which the brokers assign to %v", p, settled)
		}
	}
	// No transaction aborted: the session is reset after each rebalance,
	// so the first transaction after an idle-time rebalance commits.
	for _, p := range []*proc{a, c} {
		for _, l := range strings.Split(p.log(), "\n") {
			if strings.Contains(l, "transaction aborted") || strings.Contains(l, "transaction end failed") {
				t.Errorf("%s: %s", p.name, l)
			}
		}
	}
	// Lag is exported for exactly the partitions each instance is
	// assigned, including those it restored while idle (no fetch since).
	for _, pa := range []struct {
		p    *proc
		addr string
		id   string
	}{{a, aAddr, "eqlstream-it-idle-a"}, {c, cAddr, "eqlstream-it-idle-c"}} {
		m, err := pa.p.scrape(pa.addr)
		if err != nil {
			t.Fatal(err)
		}
		lag := metricByLabel(m, "eqlstream_consumer_lag_records", "partition")
		var parts []string
		for part := range lag {
			parts = append(parts, part)
		}
		sort.Strings(parts)
		var want []string
		for _, part := range final[pa.id] {
			want = append(want, strconv.Itoa(int(part)))
		}
		sort.Strings(want)
		if strings.Join(parts, ",") != strings.Join(want, ",") {
			t.Errorf("%s exports consumer lag for partitions %v, want its assignment %v", pa.p.name, parts, want)
		}
	}
	got := topicAlerts(t, e.readCommitted(n.Alerts, time.Minute))
	checkExactlyOnce(t, want, got)
	checkPerHostOrder(t, want, got)
	e.checkNoOpenTransactions(n.Alerts, n.State)
	for _, p := range []*proc{a, c} {
		if code, took := p.terminate(sigtermBound); code != 0 {
			t.Errorf("%s exited with code %d after SIGTERM (in %s), want 0", p.name, code, took)
		}
	}
}
