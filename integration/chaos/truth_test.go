//go:build chaos

package chaos

// The ground-truth oracle: the committed alerts against the attack chains
// internal/gen injected, independently of the engine and of processor eval.
//
// Every injected chain must raise exactly one alert from the rule it
// targets, over exactly its marked events (rule, host and process.entity_id
// tuple), and every alert must be such a chain — with one exception the
// oracle derives itself: a sequence stage event that arrived late (behind
// the partition's watermark) is applied out of order, and the chain may
// legitimately not match. Lateness is computed here from the input read back
// (offsets and @timestamps) and the committed idle flush points, with the
// watermark rules of the documented semantics — the watermark is the newest
// @timestamp minus the allowed disorder, and an idle flush raises it past
// the newest @timestamp — not by the engine. An event rule matches each
// event on arrival, late or not, so an event-rule chain is never excused.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/internal/testutil"
	"github.com/eqlstream/eqlstream/rules/engine"
)

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

// checkTruth compares the committed alert bodies with the injected chains.
func (h *harness) checkTruth(got alerts, input map[int32][]inRec, hist map[int32]*partHistory) truthResult {
	var res truthResult
	byHash := map[uint64]int{}
	for i, l := range h.lines {
		byHash[xxhash.Sum64(l)] = i
	}
	points := map[int32][]int64{}
	for p, ph := range hist {
		points[p] = ph.Points
	}
	late, lateCount := simulateWatermarks(input, points)
	// alerts per key
	have := map[string]int{}
	for _, id := range got.ids {
		for _, body := range got.bodies[id] {
			k, err := testutil.AlertChainKey(body)
			if err != nil {
				h.logf("alert %s: %v", id, err)
				res.unexpected++
				continue
			}
			have[k]++
		}
	}
	lateChainEvents := map[int32]map[int]bool{}
	want := map[string]bool{}
	var excused []string
	for _, inj := range h.injections {
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
		if len(inj.Lines) > 1 {
			for i, line := range inj.Lines {
				l, ok := late[xxhash.Sum64(h.lines[line])]
				if !ok {
					h.logf("truth: %s/%s event %d (line %d) is not in the input topic", inj.Kind, inj.Variant, i+1, line)
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
						cause = "disorder beyond --allowed-disorder"
					}
					why = append(why, fmt.Sprintf("stage %d (partition %d offset %d, @timestamp %s) arrived %s behind the watermark %s set by %s",
						i+1, l.part, l.off, fmtNS(l.ts), time.Duration(l.wm-l.ts), fmtNS(l.wm), cause))
				case l.pending:
					isPending = true
					why = append(why, fmt.Sprintf("stage %d (partition %d offset %d) is still in the committed reorder buffer", i+1, l.part, l.off))
				}
			}
		}
		switch {
		case n > 1:
			res.unexpected += n - 1
			if !isLate && !isPending {
				res.ok++
			}
		case n == 1 && (isLate || isPending):
			res.lateAlerted++
		case n == 1:
			res.ok++
		case isLate:
			res.excused++
			excused = append(excused, fmt.Sprintf("%s/%s on %s: %s", inj.Kind, inj.Variant, inj.HostID, strings.Join(why, "; ")))
		case isPending:
			res.pending++
			excused = append(excused, fmt.Sprintf("pending %s/%s on %s: %s", inj.Kind, inj.Variant, inj.HostID, strings.Join(why, "; ")))
		default:
			res.missing++
			h.logf("truth: MISSING %s/%s on %s: %s (events at lines %v, all on time)", inj.Kind, inj.Variant, inj.HostID, k, inj.Lines)
		}
	}
	for k, n := range have {
		if !want[k] {
			res.unexpected += n
			h.logf("truth: UNEXPECTED alert %s (%d)", k, n)
		}
	}
	for _, e := range excused {
		h.logf("truth: excused %s", e)
	}
	// Every late chain event is a stage hit, so the engine counted it as
	// late too: more late chain events than the committed late counter
	// means the oracle's watermark is not the engine's.
	for p, evs := range lateChainEvents {
		res.lateChainEvents += len(evs)
		committed := uint64(0)
		if ph := hist[p]; ph != nil {
			if st, err := engine.MetaStats(ph.Last.Engine); err == nil {
				committed = st.Late
			}
		}
		if uint64(len(evs)) > committed {
			h.logf("truth: partition %d: %d late chain events, the committed state counts %d late events (%d records behind the oracle's watermark)",
				p, len(evs), committed, lateCount[p])
			res.unexplained++
		}
	}
	return res
}

// compareBodies counts committed alerts whose body, without its wall-clock
// field, is not byte-equal to processor eval's alert of the same ID, and
// alerts whose ID header is not the body's kibana.alert.uuid.
func (h *harness) compareBodies(got alerts, want map[string][]byte) int {
	n := 0
	ids := make([]string, 0, len(got.bodies))
	for id := range got.bodies {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		w, ok := want[id]
		if !ok {
			continue // counted as unexpected
		}
		for _, b := range got.bodies[id] {
			var hdr struct {
				ID string `json:"kibana.alert.uuid"`
			}
			if err := json.Unmarshal(b, &hdr); err != nil || hdr.ID != id {
				h.logf("alert %s: body's kibana.alert.uuid is %q (%v)", id, hdr.ID, err)
				n++
				continue
			}
			s, ok := stripProcessedAt(b)
			if !ok {
				h.logf("alert %s: no valid eqlstream.processed_at in the online body", id)
				n++
				continue
			}
			if !bytes.Equal(s, w) {
				if n < 3 {
					h.logf("alert %s: body differs from processor eval's\nonline: %s\neval:   %s", id, s, w)
				}
				n++
			}
		}
	}
	return n
}
