//go:build chaos

package chaos

// Alert suppression and exception lists in the chaos run
// (CHAOS_SUPPRESSION=1): the processors and the replay get the built-in
// rules plus two suppression rules (5 s windows with an exception list, and
// 2 h windows that stay open); alerts are compared
// with their suppression fields, and each partition's committed suppression
// windows with the replay's.

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/partition"
	"github.com/eqlstream/eqlstream/rules/suppress"
	"github.com/twmb/franz-go/pkg/kgo"
)

// committedWindows reads the state topic once: per input partition, the
// suppression records' latest values (hex), keyed after the partition
// prefix. The state topic's partition N holds input partition N's state.
func (h *harness) committedWindows() map[int32]map[string]string {
	out := map[int32]map[string]string{}
	h.readTopic(h.topics.state, func(r *kgo.Record) {
		prefix := partition.KeyPrefix(partition.TP{Topic: h.topics.in, Partition: r.Partition})
		k, ok := strings.CutPrefix(string(r.Key), prefix)
		if !ok || !strings.HasPrefix(k, suppress.KeyPrefix) {
			return
		}
		m := out[r.Partition]
		if m == nil {
			m = map[string]string{}
			out[r.Partition] = m
		}
		if r.Value == nil {
			delete(m, k)
		} else {
			m[k] = hex.EncodeToString(r.Value)
		}
	})
	return out
}

// ruleArgs are the rule flags of the processors and of the replay.
func (h *harness) ruleArgs() []string {
	if h.wrongArgs != nil {
		return h.wrongArgs // the wrong-rule control
	}
	if !h.p.suppression {
		return nil
	}
	td := filepath.Join(h.root, "rules", "suppress", "testdata")
	return []string{"--rules", filepath.Join(h.root, "rules", "builtin"),
		"--rules", filepath.Join(td, "sudo_suppressed.toml"), "--exceptions", filepath.Join(td, "sudo_tuning.ndjson"),
		// its windows stay open: the committed windows are compared with
		// the replay's at the end, counts included
		"--rules", filepath.Join(td, "sudo_per_host_2h.toml")}
}

// alertKey is what the checker compares for an alert: its ID, and for an
// alert with suppression fields also the count and time span, so a summary
// with a wrong count is missing and unexpected, not equal.
func alertKey(t *testing.T, doc []byte, id string) string {
	var d struct {
		Docs  *int   `json:"kibana.alert.suppression.docs_count"`
		Start string `json:"kibana.alert.suppression.start"`
		End   string `json:"kibana.alert.suppression.end"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("alert %s: %v", id, err)
	}
	if d.Docs == nil {
		return id
	}
	return fmt.Sprintf("%s#docs=%d,%s..%s", id, *d.Docs, d.Start, d.End)
}

// sameWindows compares input partition p's committed suppression records
// (the state topic, read_committed, latest value per key) with the replay's
// open windows.
func (h *harness) sameWindows(p int32, replay map[string]string) bool {
	if h.windows == nil {
		h.windows = h.committedWindows()
	}
	got := h.windows[p]
	if len(got) == len(replay) {
		same := true
		for k, v := range got {
			same = same && replay[k] == v
		}
		if same {
			return true
		}
	}
	var diff []string
	for k, v := range got {
		if replay[k] != v {
			diff = append(diff, fmt.Sprintf("%s committed=%s replay=%s", k, v, replay[k]))
		}
	}
	for k, v := range replay {
		if _, ok := got[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s committed=<none> replay=%s", k, v))
		}
	}
	sort.Strings(diff)
	h.logf("partition %d: suppression windows differ from the replay (%d committed, %d replayed): %s", p, len(got), len(replay), strings.Join(diff, "; "))
	return false
}
