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
	"regexp"
	"sort"
	"strings"

	"github.com/eqlstream/eqlstream/internal/testutil"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// checkTruth compares the committed alert bodies with the injected chains.
func (h *harness) checkTruth(got alerts, input map[int32][]inRec, hist map[int32]*partHistory) truthResult {
	points := map[int32][]int64{}
	for p, ph := range hist {
		points[p] = ph.Points
	}
	late, lateCount := simulateWatermarks(input, points)
	// alerts per key
	have := map[string]int{}
	badBodies := 0
	// The generator's chains target the built-in detections; the alerts
	// of other rules (SUPPRESSION=1 adds some) are not its to judge.
	builtin := map[string]bool{}
	for _, r := range rules.Builtin() {
		builtin[r.ID] = true
	}
	for id, bodies := range got.bodies { // every committed record, duplicates too
		for _, body := range bodies {
			var rid struct {
				RuleID string `json:"kibana.alert.rule.rule_id"`
			}
			if err := json.Unmarshal(body, &rid); err == nil && !builtin[rid.RuleID] {
				continue
			}
			k, err := testutil.AlertChainKey(body)
			if err != nil {
				h.logf("alert %s: %v", id, err)
				badBodies++
				continue
			}
			have[k]++
		}
	}
	res, notes, lateChainEvents := judgeChains(h.injections, h.lines, have, late)
	res.unexpected += badBodies
	for _, n := range notes {
		h.logf("truth: %s", n)
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
			base, _, _ := strings.Cut(id, "#") // alertKey adds a suppressed alert's count
			if err := json.Unmarshal(b, &hdr); err != nil || hdr.ID != base {
				h.logf("alert %s: body's kibana.alert.uuid is %q (%v)", id, hdr.ID, err)
				n++
				continue
			}
			s, ok := stripProcessedAt(b)
			if !ok && !bytes.Contains(b, processedAtField) {
				s, ok = b, true // a suppression summary: nothing of it is wall-clock
			}
			if !ok {
				h.logf("alert %s: no valid eqlstream.processed_at in the online body", id)
				n++
				continue
			}
			if h.rules != nil {
				// RULE_CHANGES=1: the online revision is a rules-topic
				// offset, which eval --rules-at PATH cannot name; the
				// revision points themselves are checked against the
				// pushes (rulesArgs)
				s, w = stripRevision(s), stripRevision(w)
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

var revisionField = regexp.MustCompile(`,"eqlstream\.rules_revision":"[^"]*"`)

// stripRevision removes the alert's eqlstream.rules_revision field.
func stripRevision(b []byte) []byte { return revisionField.ReplaceAll(b, nil) }
