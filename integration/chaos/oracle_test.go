package chaos

// The chaos oracle's pure parts (no build tag, so `make test` runs their
// unit tests): the watermark each input record met, replayed from the
// @timestamps and the committed idle flush points, and the alert body
// normalisation.

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
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
