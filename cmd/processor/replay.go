package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/suppress"
)

// flushPoints is --flush-at: input line counts after which eval replays an
// idle flush, as a processor recorded them (partition.FlushHistory gives
// them as input offsets; with one line per record from offset 0 they are
// the same numbers).
type flushPoints []int64

func (f *flushPoints) String() string {
	if f == nil {
		return ""
	}
	s := make([]string, len(*f))
	for i, n := range *f {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ",")
}

func (f *flushPoints) Set(v string) error {
	if rest, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(rest)
		if err != nil {
			return err
		}
		v = string(b)
	}
	for _, field := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("flush point %q: want a line count >= 0", field)
		}
		*f = append(*f, n)
	}
	slices.Sort(*f)
	return nil
}

// evalStatsJSON is what --stats-out writes: eval's counters and the final
// engine state, comparable with a processor's committed meta record
// (engine.MetaStats).
type evalStatsJSON struct {
	Events      uint64 `json:"events"`
	Alerts      int    `json:"alerts"`
	BadLines    int    `json:"bad_lines"`
	Matches     uint64 `json:"matches"`
	Late        uint64 `json:"late"`
	Evicted     uint64 `json:"evicted"`
	Expired     uint64 `json:"expired"`
	Buffered    int    `json:"buffered"`
	Watermark   int64  `json:"watermark"`
	IdleFlushes int    `json:"idle_flushes"`
	// Alert suppression: alerts suppressed and summaries written (all
	// rules), and the open windows as the state records a processor would
	// have committed (key after the partition prefix -> hex value).
	Suppressed         int               `json:"suppressed,omitempty"`
	Summaries          int               `json:"summaries,omitempty"`
	SuppressionWindows map[string]string `json:"suppression_windows,omitempty"`
}

func writeEvalStats(path string, st *evalStats, es engine.Stats, flushes int, sup *suppress.State) error {
	js := evalStatsJSON{Events: es.Events, Alerts: st.alerts, BadLines: st.bad, Matches: es.Matches,
		Late: es.Late, Evicted: es.Evicted, Expired: es.Expired, Buffered: es.Buffered, Watermark: es.Watermark, IdleFlushes: flushes}
	for _, n := range st.suppressed {
		js.Suppressed += n
	}
	for _, n := range st.summaries {
		js.Summaries += n
	}
	for _, r := range sup.Records() {
		if js.SuppressionWindows == nil {
			js.SuppressionWindows = map[string]string{}
		}
		js.SuppressionWindows[r.Key] = hex.EncodeToString(r.Value)
	}
	b, err := json.Marshal(js)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
