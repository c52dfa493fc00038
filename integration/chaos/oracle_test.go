package chaos

// The chaos oracle's pure parts (no build tag, so `make test` runs their
// unit tests): the watermark each input record met, replayed from the
// @timestamps and the committed idle flush points, and the alert body
// normalisation.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/internal/testutil"
)

// allowedDisorder is the processors' default --allowed-disorder (the chaos
// processors run with their default flags).
const allowedDisorder = int64(2 * time.Second)

// inRec is one input record as read back: its offset, @timestamp (Unix ns)
// and a hash of its value (to find the generator's lines in the topic).
type inRec struct {
	off  int64
	ts   int64
	hash uint64
}

func readTimestamp(v []byte) (int64, error) {
	var d struct {
		TS string `json:"@timestamp"`
	}
	if err := json.Unmarshal(v, &d); err != nil {
		return 0, err
	}
	t, err := time.Parse(time.RFC3339Nano, d.TS)
	if err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

// lateness is the oracle's view of one input record.
type lateness struct {
	part    int32
	off     int64
	ts      int64
	late    bool  // behind the watermark on arrival
	wm      int64 // the watermark on arrival
	flushAt int64 // the flush point that raised the watermark past ts (-1: none)
	pending bool  // not yet released at the end of the committed input
}

// simulateWatermarks replays each partition's watermark from the input's
// @timestamps and the committed flush points and returns every record's
// lateness by value hash, and the late-record count per partition.
func simulateWatermarks(input map[int32][]inRec, flushPoints map[int32][]int64) (map[uint64]lateness, map[int32]int) {
	out := map[uint64]lateness{}
	lateCount := map[int32]int{}
	for p, recs := range input {
		points := flushPoints[p]
		var wm, maxTs int64
		flushOf := int64(-1) // the latest flush that set the watermark
		started := false
		next := 0
		flush := func() {
			// a recorded flush released a non-empty buffer: the
			// watermark moves past the newest timestamp
			if started && maxTs+1 > wm {
				wm, flushOf = maxTs+1, points[next]
			}
			next++
		}
		for _, r := range recs {
			for next < len(points) && points[next] <= r.off {
				flush()
			}
			l := lateness{part: p, off: r.off, ts: r.ts, wm: wm, flushAt: -1}
			if started && r.ts < wm {
				l.late = true
				lateCount[p]++
				if r.ts < maxTs-allowedDisorder {
					l.flushAt = -1 // older than the disorder allows: late without a flush
				} else {
					l.flushAt = flushOf
				}
			}
			if !started || r.ts > maxTs {
				maxTs, started = r.ts, true
				if w := maxTs - allowedDisorder; w > wm {
					wm = w
				}
			}
			out[r.hash] = l
		}
		for next < len(points) {
			flush()
		}
		// what the last committed state still buffers
		for _, r := range recs {
			if l := out[r.hash]; !l.late && r.ts >= wm {
				l.pending = true
				out[r.hash] = l
			}
		}
	}
	return out, lateCount
}

// ruleOfKind maps the generator's chain kinds to the built-in rules' IDs.
var ruleOfKind = map[string]string{
	gen.KindAPTShell:         "7a756487-690f-4e73-922d-891a00202b9f",
	gen.KindAPTNetcon:        "007e138a-8a35-4afb-83ad-db3121eabf85",
	gen.KindDPKGUnusual:      "71e5ab27-ba4a-4851-8ef9-52296169170c",
	gen.KindChmodPersistence: "b0170349-ba6d-428a-9668-eb90b69b8de8",
}

// truthResult is what the oracle found.
type truthResult struct {
	chains, ok, missing, unexpected, excused, lateAlerted, pending, unexplained int
	lateChainEvents                                                             int
}

// judgeChains compares the alerts (counted by testutil.ChainKey) with the
// injected chains, given every input record's lateness by value hash. It
// returns the counts, a note for each chain that is not simply right, and
// the late chain events per partition (by stream line).
func judgeChains(injs []gen.Injection, lines [][]byte, have map[string]int, late map[uint64]lateness) (truthResult, []string, map[int32]map[int]bool) {
	var res truthResult
	var notes []string
	lateChainEvents := map[int32]map[int]bool{}
	want := map[string]bool{}
	for _, inj := range injs {
		if inj.Lookalike {
			continue
		}
		res.chains++
		k := testutil.ChainKey(ruleOfKind[inj.Kind], inj.HostID, inj.EntityIDs)
		want[k] = true
		n := have[k]
		// a sequence's stage events may arrive late or be still buffered;
		// an event rule matches every event on arrival
		var why []string
		isLate, isPending := false, false
		for i, line := range inj.Lines {
			if len(inj.Lines) == 1 {
				break
			}
			l, ok := late[xxhash.Sum64(lines[line])]
			if !ok {
				notes = append(notes, fmt.Sprintf("%s/%s event %d (line %d) is not in the input topic", inj.Kind, inj.Variant, i+1, line))
				res.unexplained++
				continue
			}
			switch {
			case l.late:
				isLate = true
				if lateChainEvents[l.part] == nil {
					lateChainEvents[l.part] = map[int]bool{}
				}
				lateChainEvents[l.part][line] = true
				cause := fmt.Sprintf("the idle flush recorded at offset %d", l.flushAt)
				if l.flushAt < 0 {
					// the generator's disorder (500ms) is within the
					// allowed 2s: only a flush can make an event late
					cause = "disorder beyond --allowed-disorder"
					res.unexplained++
					notes = append(notes, fmt.Sprintf("UNEXPLAINED: %s/%s stage %d is late without an idle flush", inj.Kind, inj.Variant, i+1))
				}
				why = append(why, fmt.Sprintf("stage %d (partition %d offset %d, @timestamp %s) arrived %s behind the watermark %s set by %s",
					i+1, l.part, l.off, fmtNS(l.ts), time.Duration(l.wm-l.ts).Round(time.Microsecond), fmtNS(l.wm), cause))
			case l.pending:
				isPending = true
				why = append(why, fmt.Sprintf("stage %d (partition %d offset %d) is still in the committed reorder buffer", i+1, l.part, l.off))
			}
		}
		if n > 1 {
			res.unexpected += n - 1
			notes = append(notes, fmt.Sprintf("DUPLICATE: %d alerts for %s/%s on %s", n, inj.Kind, inj.Variant, inj.HostID))
			n = 1
		}
		what := fmt.Sprintf("%s/%s on %s: %s", inj.Kind, inj.Variant, inj.HostID, strings.Join(why, "; "))
		switch {
		case n == 1 && (isLate || isPending):
			res.lateAlerted++
			notes = append(notes, "late and still alerted: "+what)
		case n == 1:
			res.ok++
		case isLate:
			res.excused++
			notes = append(notes, "excused: "+what)
		case isPending:
			res.pending++
			notes = append(notes, "pending: "+what)
		default:
			res.missing++
			notes = append(notes, fmt.Sprintf("MISSING %s/%s on %s: %s (events at lines %v, all on time)", inj.Kind, inj.Variant, inj.HostID, k, inj.Lines))
		}
	}
	keys := make([]string, 0, len(have))
	for k := range have {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !want[k] {
			res.unexpected += have[k]
			notes = append(notes, fmt.Sprintf("UNEXPECTED alert %s (%d)", k, have[k]))
		}
	}
	return res, notes, lateChainEvents
}

func fmtNS(ns int64) string { return time.Unix(0, ns).UTC().Format("15:04:05.000") }

// processedAtField is the one wall-clock field of an alert (see rules/alert.go
// and the README's alert fields): present online, absent offline.
var processedAtField = []byte(`,"eqlstream.processed_at":"`)

// stripProcessedAt removes eqlstream.processed_at from an online alert body;
// ok is false when it is missing or not a timestamp. The field is written
// among the top-level fields, before "events", so only that part is searched.
func stripProcessedAt(body []byte) ([]byte, bool) {
	end := bytes.Index(body, []byte(`,"events":[`))
	if end < 0 {
		return nil, false
	}
	i := bytes.Index(body[:end], processedAtField)
	if i < 0 {
		return nil, false
	}
	j := i + len(processedAtField)
	k := bytes.IndexByte(body[j:end], '"')
	if k < 0 {
		return nil, false
	}
	if _, err := time.Parse(time.RFC3339Nano, string(body[j:j+k])); err != nil {
		return nil, false
	}
	out := make([]byte, 0, len(body))
	out = append(out, body[:i]...)
	return append(out, body[j+k+1:]...), true
}

func TestSimulateWatermarks(t *testing.T) {
	sec := func(s float64) int64 { return int64(s * float64(time.Second)) }
	// one partition; the flush at offset 3 runs after offsets 0-2
	recs := []inRec{
		{off: 0, ts: sec(10), hash: 1},
		{off: 1, ts: sec(11), hash: 2},
		{off: 2, ts: sec(9.5), hash: 3}, // within the allowed disorder: on time
		// idle flush: the watermark moves past 11s
		{off: 3, ts: sec(11), hash: 4},   // equal to the newest: behind 11s+1ns, late
		{off: 4, ts: sec(10.5), hash: 5}, // late because of the flush
		{off: 6, ts: sec(14), hash: 6},   // (an offset gap: a transaction marker)
		{off: 7, ts: sec(11.9), hash: 7}, // older than 14s-2s: late without a flush
		{off: 8, ts: sec(12), hash: 8},   // exactly at the watermark: on time, still buffered
		{off: 9, ts: sec(13), hash: 9},   // on time, still buffered
	}
	got, count := simulateWatermarks(map[int32][]inRec{4: recs}, map[int32][]int64{4: {3}})
	want := map[uint64]lateness{
		1: {part: 4, off: 0, ts: sec(10), flushAt: -1},
		2: {part: 4, off: 1, ts: sec(11), wm: sec(8), flushAt: -1},
		3: {part: 4, off: 2, ts: sec(9.5), wm: sec(9), flushAt: -1},
		4: {part: 4, off: 3, ts: sec(11), wm: sec(11) + 1, late: true, flushAt: 3},
		5: {part: 4, off: 4, ts: sec(10.5), wm: sec(11) + 1, late: true, flushAt: 3},
		6: {part: 4, off: 6, ts: sec(14), wm: sec(11) + 1, flushAt: -1, pending: true},
		7: {part: 4, off: 7, ts: sec(11.9), wm: sec(12), late: true, flushAt: -1},
		8: {part: 4, off: 8, ts: sec(12), wm: sec(12), flushAt: -1, pending: true},
		9: {part: 4, off: 9, ts: sec(13), wm: sec(12), flushAt: -1, pending: true},
	}
	for h, w := range want {
		if got[h] != w {
			t.Errorf("record %d: got %+v, want %+v", h, got[h], w)
		}
	}
	if count[4] != 3 {
		t.Errorf("late records: %d, want 3", count[4])
	}
	// a flush at the end of the input releases everything
	got, _ = simulateWatermarks(map[int32][]inRec{4: recs}, map[int32][]int64{4: {3, 10}})
	for h, l := range got {
		if l.pending {
			t.Errorf("record %d still pending after the final flush", h)
		}
	}
}

func TestStripProcessedAt(t *testing.T) {
	online := []byte(`{"kibana.alert.uuid":"ab","eqlstream":{"kind":"event"},"eqlstream.processed_at":"2026-12-08T01:02:03.456789Z","events":[{"eqlstream.processed_at":"x"}]}`)
	offline := []byte(`{"kibana.alert.uuid":"ab","eqlstream":{"kind":"event"},"events":[{"eqlstream.processed_at":"x"}]}`)
	got, ok := stripProcessedAt(online)
	if !ok || !bytes.Equal(got, offline) {
		t.Errorf("stripProcessedAt = %s, %v; want %s", got, ok, offline)
	}
	for _, bad := range []string{
		string(offline), // the field is missing online
		`{"kibana.alert.uuid":"ab","eqlstream.processed_at":"yesterday","events":[]}`,
		`{"kibana.alert.uuid":"ab","eqlstream.processed_at":"2026-12-08T01:02:03Z"}`, // no events
	} {
		if _, ok := stripProcessedAt([]byte(bad)); ok {
			t.Errorf("stripProcessedAt accepted %s", bad)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Errorf("stripped body is not JSON: %v", err)
	}
}

func TestJudgeChains(t *testing.T) {
	lines := [][]byte{}
	late := map[uint64]lateness{}
	// line adds an input record with the given lateness and returns its
	// stream position
	line := func(l lateness) int {
		b := []byte(fmt.Sprintf(`{"n":%d}`, len(lines)))
		lines = append(lines, b)
		late[xxhash.Sum64(b)] = l
		return len(lines) - 1
	}
	onTime := lateness{flushAt: -1}
	lateEv := lateness{part: 2, off: 40, late: true, flushAt: 37}
	pending := lateness{part: 3, off: 90, pending: true, flushAt: -1}
	seq := func(host string, a, b lateness) gen.Injection {
		return gen.Injection{Kind: gen.KindAPTShell, Variant: "v", HostID: host, EntityIDs: []string{host + "-1", host + "-2"},
			Lines: []int{line(a), line(b)}}
	}
	injs := []gen.Injection{
		seq("ok", onTime, onTime),
		seq("missing", onTime, onTime),
		seq("excused", onTime, lateEv),
		seq("late-alerted", lateEv, onTime),
		seq("pending", onTime, pending),
		seq("twice", onTime, onTime),
		seq("disorder", lateness{part: 2, off: 50, late: true, flushAt: -1}, onTime),
		// an event rule matches on arrival: a late event excuses nothing
		{Kind: gen.KindDPKGUnusual, Variant: "v", HostID: "event", EntityIDs: []string{"event-1"}, Lines: []int{line(lateEv)}},
		{Kind: gen.KindDPKGUnusual, Variant: "v", HostID: "lookalike", EntityIDs: []string{"x"}, Lines: []int{line(onTime)}, Lookalike: true},
	}
	key := func(inj gen.Injection) string {
		return testutil.ChainKey(ruleOfKind[inj.Kind], inj.HostID, inj.EntityIDs)
	}
	have := map[string]int{
		key(injs[0]): 1, key(injs[3]): 1, key(injs[5]): 2,
		key(injs[8]): 1, // an alert for the look-alike
		testutil.ChainKey("some-rule", "ok", nil): 1,
	}
	res, notes, lateEvents := judgeChains(injs, lines, have, late)
	want := truthResult{chains: 8, ok: 2, missing: 2, unexpected: 3, excused: 2, lateAlerted: 1, pending: 1, unexplained: 1}
	if res != want {
		t.Errorf("judgeChains = %+v, want %+v\n%s", res, want, strings.Join(notes, "\n"))
	}
	if len(lateEvents[2]) != 3 { // the sequences' late events; not the event rule's
		t.Errorf("late chain events %v, want three in partition 2", lateEvents)
	}
	joined := strings.Join(notes, "\n")
	for _, s := range []string{"excused: apt_shell/v on excused: stage 2 (partition 2 offset 40", "set by the idle flush recorded at offset 37",
		"MISSING dpkg_unusual/v on event", "pending: apt_shell/v on pending", "DUPLICATE: 2 alerts",
		"UNEXPLAINED: apt_shell/v stage 1 is late without an idle flush"} {
		if !strings.Contains(joined, s) {
			t.Errorf("notes lack %q:\n%s", s, joined)
		}
	}
}
