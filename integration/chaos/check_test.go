//go:build chaos

package chaos

// The checker: what was committed (alerts, the state topic's meta-record
// history) against the offline replay of the input read back.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/eqlstream/eqlstream/partition"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// openTransactions compares read_committed (last stable) and read_uncommitted
// end offsets of the alerts and state topics: any difference is a
// transaction left open.
func (h *harness) openTransactions() int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := 0
	for _, tp := range []string{h.topics.alerts, h.topics.state} {
		// give the coordinator time to abort what dead producers left open
		deadline := time.Now().Add(30 * time.Second)
		for {
			hw, err1 := h.adm.ListEndOffsets(ctx, tp)
			ls, err2 := h.adm.ListCommittedOffsets(ctx, tp)
			if err1 != nil || err2 != nil {
				h.t.Errorf("listing offsets of %s: %v %v", tp, err1, err2)
				return 1
			}
			diff := 0
			hw.Each(func(o kadm.ListedOffset) {
				if l, ok := ls.Lookup(o.Topic, o.Partition); !ok || l.Offset != o.Offset {
					diff++
				}
			})
			if diff == 0 {
				break
			}
			if time.Now().After(deadline) {
				h.logf("%s: %d partitions with open transactions", tp, diff)
				open += diff
				break
			}
			time.Sleep(time.Second)
		}
	}
	return open
}

type alerts struct {
	ids    []string
	byHost map[string][]string
	bodies map[string][][]byte // by alert ID, as committed (twice if duplicated)
}

func (h *harness) readTopic(topic string, fn func(*kgo.Record)) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ends, err := h.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		h.t.Fatal(err)
	}
	need := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			need[o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	for len(need) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			h.t.Fatalf("reading %s: %v (left %v)", topic, ctx.Err(), need)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := need[r.Partition]
			if !ok {
				return
			}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if r.Offset >= end-1 {
				delete(need, r.Partition)
			}
		})
	}
}

func (h *harness) readAlerts() alerts {
	a := alerts{byHost: map[string][]string{}, bodies: map[string][][]byte{}}
	h.readTopic(h.topics.alerts, func(r *kgo.Record) {
		id := alertKey(h.t, r.Value, header(r, "eqlstream.alert_id"))
		a.ids = append(a.ids, id)
		a.bodies[id] = append(a.bodies[id], r.Value)
		a.byHost[string(r.Key)] = append(a.byHost[string(r.Key)], id)
	})
	return a
}

// partHistory is one input partition's committed meta-record history.
type partHistory struct {
	partition.FlushHistory
	err error // the first inconsistency, if any
}

// readFlushHistory reads the state topic with read_committed, in offset
// order, and recovers each input partition's committed idle flush points
// from its meta records (the state topic's partition N holds input partition
// N's state). A run is short and the state topic's active segment is never
// compacted, so the history is complete; FlushHistory says so if not.
func (h *harness) readFlushHistory() map[int32]*partHistory {
	out := map[int32]*partHistory{}
	keys := map[string]int32{}
	for p := int32(0); p < h.p.partitions; p++ {
		keys[string(partition.MetaKey(partition.TP{Topic: h.topics.in, Partition: p}))] = p
	}
	h.readTopic(h.topics.state, func(r *kgo.Record) {
		p, ok := keys[string(r.Key)]
		if !ok {
			return
		}
		ph := out[p]
		if ph == nil {
			ph = &partHistory{}
			out[p] = ph
		}
		if err := ph.Add(r.Value); err != nil && ph.err == nil {
			ph.err = fmt.Errorf("state partition %d offset %d: %w", r.Partition, r.Offset, err)
			h.logf("flush history of input partition %d: %v", p, ph.err)
		}
	})
	return out
}

// crossCheckFlushesCLI runs `processor flushes` (the tool users have for the
// same history) and counts input partitions where it disagrees with hist.
func (h *harness) crossCheckFlushesCLI(hist map[int32]*partHistory) int {
	cmd := exec.Command(h.bin, "flushes", "--brokers", strings.Join(h.brokers, ","), "--input-topic", h.topics.in,
		"--state-topic", h.topics.state)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	bad := 0
	for _, ph := range hist {
		if ph.err != nil {
			bad++
		}
	}
	if (err != nil) != (bad > 0) {
		h.logf("processor flushes: %v (in-process history errors: %d)\n%s", err, bad, stderr.String())
		return 1
	}
	seen := 0
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var p int32
		var next int64
		var flushes uint64
		var records int
		var points string
		if _, err := fmt.Sscanf(l, h.topics.in+"/%d next=%d flushes=%d records=%d points=%s", &p, &next, &flushes, &records, &points); err != nil {
			// no points: the verb has nothing to scan
			if _, err2 := fmt.Sscanf(l, h.topics.in+"/%d next=%d flushes=%d records=%d points=", &p, &next, &flushes, &records); err2 != nil {
				h.logf("processor flushes: unexpected line %q: %v", l, err)
				return 1
			}
		}
		seen++
		ph := hist[p]
		var want []string
		if ph != nil {
			for _, o := range ph.Points {
				want = append(want, strconv.FormatInt(o, 10))
			}
		}
		if ph == nil || points != strings.Join(want, ",") || next != ph.Last.Next || flushes != ph.Last.Flushes || records != ph.Records {
			h.logf("processor flushes disagrees for partition %d: %q", p, l)
			return 1
		}
	}
	if seen != len(hist) {
		h.logf("processor flushes printed %d partitions, the history has %d", seen, len(hist))
		return 1
	}
	return 0
}

// replayStats is what processor eval --stats-out writes.
type replayStats struct {
	Events      uint64 `json:"events"`
	Matches     uint64 `json:"matches"`
	Late        uint64 `json:"late"`
	Evicted     uint64 `json:"evicted"`
	Expired     uint64 `json:"expired"`
	Buffered    int    `json:"buffered"`
	Watermark   int64  `json:"watermark"`
	IdleFlushes int    `json:"idle_flushes"`
	// alert suppression (see suppression_test.go)
	Suppressed         int               `json:"suppressed"`
	Summaries          int               `json:"summaries"`
	SuppressionWindows map[string]string `json:"suppression_windows"`
}

// compareState counts partitions whose last committed state (the engine's
// counters, watermark and reorder buffer in the meta record) differs from
// the replay's final state: a decision the online run made that the replay
// did not (an unrecorded flush), or state no replay of the input gives.
func (h *harness) compareState(hist map[int32]*partHistory, replayed map[int32]replayStats) int {
	n := 0
	for p := int32(0); p < h.p.partitions; p++ {
		ph, rs := hist[p], replayed[p]
		var st engine.Stats
		if ph != nil {
			var err error
			if st, err = engine.MetaStats(ph.Last.Engine); err != nil {
				h.logf("partition %d: committed meta record: %v", p, err)
				n++
				continue
			}
		}
		if st.Events != rs.Events || st.Matches != rs.Matches || st.Late != rs.Late || st.Evicted != rs.Evicted ||
			st.Expired != rs.Expired || st.Buffered != rs.Buffered || (rs.Events > 0 && st.Watermark != rs.Watermark) {
			h.logf("partition %d: committed state %+v, replay %+v", p, st, rs)
			n++
		} else if h.p.suppression && !h.sameWindows(p, rs.SuppressionWindows) {
			n++
		}
	}
	return n
}

// expected reads the input back from the topic and evaluates each partition
// offline with processor eval, replaying the committed idle flushes at their
// recorded input offsets and leaving the end of the input open, as a running
// processor does: the exact answer. It also returns each replay's final
// engine state, the alert documents by ID, and the input read back.
func (h *harness) expected(hist map[int32]*partHistory) ([]string, map[string][]string, map[int32]replayStats, map[string][]byte, map[int32][]inRec) {
	input := map[int32][]inRec{}
	files := map[int32]*bufio.Writer{}
	offsets := map[int32][]int64{}
	var closers []*os.File
	h.readTopic(h.topics.in, func(r *kgo.Record) {
		w := files[r.Partition]
		if w == nil {
			f, err := os.Create(filepath.Join(h.dir, fmt.Sprintf("in-%02d.ndjson", r.Partition)))
			if err != nil {
				h.t.Fatal(err)
			}
			closers = append(closers, f)
			w = bufio.NewWriter(f)
			files[r.Partition] = w
		}
		w.Write(r.Value)
		w.WriteByte('\n')
		offsets[r.Partition] = append(offsets[r.Partition], r.Offset)
		ts, err := readTimestamp(r.Value)
		if err != nil {
			h.t.Fatalf("input partition %d offset %d: @timestamp: %v", r.Partition, r.Offset, err)
		}
		input[r.Partition] = append(input[r.Partition], inRec{off: r.Offset, ts: ts, hash: xxhash.Sum64(r.Value)})
	})
	for _, w := range files {
		w.Flush()
	}
	for _, f := range closers {
		f.Close()
	}
	var ids []string
	byHost := map[string][]string{}
	bodies := map[string][]byte{}
	replayed := map[int32]replayStats{}
	parts := make([]int32, 0, len(files))
	for p := range files {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		// flush points are input offsets; eval counts lines (one per record)
		var pts []string
		if ph := hist[p]; ph != nil {
			for _, off := range ph.Points {
				n := sort.Search(len(offsets[p]), func(i int) bool { return offsets[p][i] >= off })
				pts = append(pts, strconv.Itoa(n))
			}
		}
		flushFile := filepath.Join(h.dir, fmt.Sprintf("flush-%02d.txt", p))
		statsFile := filepath.Join(h.dir, fmt.Sprintf("replay-%02d.json", p))
		if err := os.WriteFile(flushFile, []byte(strings.Join(pts, ",")), 0o644); err != nil {
			h.t.Fatal(err)
		}
		args := []string{"eval", "--quiet", "--final-flush=false", "--stats-out", statsFile}
		if h.rules != nil {
			args = append(args, h.rulesArgs(hist[p], offsets[p])...)
		} else {
			args = append(args, h.ruleArgs()...)
		}
		if len(pts) > 0 {
			args = append(args, "--flush-at", "@"+flushFile)
		}
		cmd := exec.Command(h.bin, append(args, filepath.Join(h.dir, fmt.Sprintf("in-%02d.ndjson", p)))...)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			h.t.Fatalf("eval partition %d: %v\n%s", p, err, stderr.String())
		}
		b, err := os.ReadFile(statsFile)
		if err != nil {
			h.t.Fatal(err)
		}
		var rs replayStats
		if err := json.Unmarshal(b, &rs); err != nil {
			h.t.Fatal(err)
		}
		replayed[p] = rs
		sc := bufio.NewScanner(&out)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var a struct {
				ID   string `json:"kibana.alert.uuid"`
				Host struct {
					ID string `json:"id"`
				} `json:"host"`
			}
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				h.t.Fatal(err)
			}
			id := alertKey(h.t, sc.Bytes(), a.ID)
			ids = append(ids, id)
			byHost[a.Host.ID] = append(byHost[a.Host.ID], id)
			bodies[id] = append([]byte(nil), sc.Bytes()...)
		}
	}
	return ids, byHost, replayed, bodies, input
}

func compare(expected, got []string) (missing, dup, unexpected int) {
	want := map[string]int{}
	for _, id := range expected {
		want[id]++
	}
	have := map[string]int{}
	for _, id := range got {
		have[id]++
	}
	for id, n := range want {
		switch h := have[id]; {
		case h < n:
			missing += n - h
		case h > n:
			dup += h - n
		}
	}
	for id, n := range have {
		if _, ok := want[id]; !ok {
			unexpected += n
		}
	}
	return
}

// orderViolations counts hosts whose alerts arrived in another order than
// the offline evaluation gives.
func (h *harness) orderViolations(want, got map[string][]string) int {
	n := 0
	for host, w := range want {
		g := got[host]
		if len(g) != len(w) {
			continue // counted as missing/duplicated
		}
		for i := range w {
			if g[i] != w[i] {
				n++
				break
			}
		}
	}
	return n
}
