// Package suppress applies Elastic's alert suppression
// ([rule.alert_suppression]: group_by, duration, missing_fields_strategy)
// to the alerts of one ordered stream (one input partition, or the whole
// input of `processor eval`). It owns the open suppression windows of that
// stream, the alert fields Kibana puts on suppressed alerts
// (kibana.alert.instance_id, kibana.alert.suppression.*), the summary alert
// that closes a window, and the encoding of the windows as state-topic
// records with their rollback on abort.
//
// Semantics, after Kibana's detection engine (security_solution
// rule_types/eql/eql.ts and utils/bulk_create_suppressed_alerts_in_memory.ts,
// utils/suppression_utils.ts getSuppressionTerms), mapped to event time:
//
//   - Rule kinds: event queries (Kibana 8.14) and sequences (8.18; samples
//     come back from Elasticsearch as sequences and take the same path).
//     A sequence is suppressed on the values of its shell alert: the fields
//     every event of the sequence has with the same value.
//   - Terms: one per group_by field, {field, value}: the field's values as
//     an array (sorted, as Kibana's sortBy), or null when the alert has no
//     value. Kibana's instance ID is derived from the rule and the terms.
//   - missing_fields_strategy "suppress" (default) groups alerts that lack a
//     field under the null value; "doNotSuppress" produces them as ordinary
//     alerts, without suppression fields.
//   - The first alert of a group opens a window and is produced at once,
//     with kibana.alert.suppression.terms, .start = .end = its timestamp
//     and .docs_count = 0. With a duration, the window is [its timestamp,
//     timestamp + duration); without one Kibana suppresses per rule
//     execution, which a stream maps to the execution interval that holds
//     the alert: [k·interval, (k+1)·interval) of event time, interval being
//     the rule's `interval` (default 5m).
//   - A later alert of the group whose timestamp is before the window's end
//     is suppressed: counted, not produced. One whose timestamp is at or
//     after the end closes the window first and opens a new one.
//   - A window closes when the stream's watermark reaches its end (an idle
//     flush moves the watermark too; the end of `eval`'s input closes every
//     window). If it suppressed anything, a summary alert is produced then:
//     the suppression fields with docs_count, .start the first alert's
//     timestamp, .end the latest suppressed one, and an ID derived from the
//     rule, its version, the terms and the window start. A window that
//     suppressed nothing produces no summary: its first alert said it all.
//
// Everything depends on event time and on the watermark, which the state
// topic and the recorded idle flushes reproduce, so `eval` with the
// recorded flush points gives the same alerts and summaries as `run`.
//
// At a rule-set change (Migrate) a window belongs to its rule's fingerprint
// (engine.Rule.Fingerprint: the query, exceptions and these suppression
// settings): the windows of unchanged rules carry over with their counts;
// those of changed, deleted or no longer suppressing rules are closed
// without a summary and their records deleted — see Migrate for why.
package suppress

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// Decision is what suppression did with an alert.
type Decision uint8

// Decisions.
const (
	Unsuppressed Decision = iota // no suppression for the rule, or doNotSuppress with a missing field
	Opened                       // first alert of a group: produced with the suppression fields
	Suppressed                   // counted in an open window, not produced
)

// Output is an alert document to produce.
type Output struct {
	Doc     []byte
	ID      string
	Rule    *rules.Rule
	Summary bool // the summary of a closed window
	Member  bool // a further document of the alert before it (Elastic's building blocks)
}

type ruleCfg struct {
	r      *rules.Rule
	s      *rules.AlertSuppression
	finger uint64 // the rule's engine.Rule.Fingerprint (it covers the suppression settings): windows of another are dropped
}

// window is one group's open suppression window.
type window struct {
	rule  string
	first int64  // timestamp of the alert that opened it (suppression.start)
	end   int64  // exclusive end, event time
	last  int64  // latest suppressed timestamp (suppression.end)
	docs  uint64 // suppressed alerts
	id    string // ID of the alert that opened it
	terms []byte // JSON array of {field, value}
	host  string // the host.id term when it has one value
	fp    uint64 // ruleCfg.finger when written
}

type wkey struct {
	rule string
	key  uint64
}

// State is the suppression state of one stream. It is not safe for
// concurrent use.
type State struct {
	byRule map[*engine.Rule]*ruleCfg
	byID   map[string]*ruleCfg
	open   map[wkey]*window
	minEnd int64 // no window ends before it

	track bool
	undo  map[wkey]*window // value before the unit of work (nil: absent)
}

// New returns empty state for the suppression rules of set (none: every
// alert passes unchanged).
func New(set *rules.RuleSet) *State {
	s := &State{byRule: map[*engine.Rule]*ruleCfg{}, byID: map[string]*ruleCfg{}, open: map[wkey]*window{},
		minEnd: math.MaxInt64, undo: map[wkey]*window{}}
	if set == nil || set.Program == nil {
		return s
	}
	for _, er := range set.Program.Rules() {
		r := set.Rule(er)
		if r == nil || r.AlertSuppression == nil {
			continue
		}
		c := &ruleCfg{r: r, s: r.AlertSuppression, finger: er.Fingerprint}
		s.byRule[er], s.byID[r.ID] = c, c
	}
	return s
}

// Active reports whether any rule suppresses.
func (s *State) Active() bool { return len(s.byRule) > 0 }

// Open is the number of open windows.
func (s *State) Open() int { return len(s.open) }

// CheckScope refuses suppression rules that cannot be exact when the input
// is partitioned by keyField (host.id): a group's alerts must all come from
// one partition, so group_by must include keyField.
func CheckScope(set *rules.RuleSet, keyField string) error {
	var errs []string
	for _, er := range set.Program.Rules() {
		if err := CheckRuleScope(set.Rule(er), keyField); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// CheckRuleScope is CheckScope for one rule (nil: no suppression, or
// scoped).
func CheckRuleScope(r *rules.Rule, keyField string) error {
	if r == nil || r.AlertSuppression == nil {
		return nil
	}
	for _, f := range r.AlertSuppression.GroupBy {
		if f == keyField {
			return nil
		}
	}
	return fmt.Errorf("rule %s (%s, %s): alert_suppression.group_by %v does not include %s: the input is partitioned by %s, so one group's alerts could come from several partitions and no partition could suppress them exactly; add %q to group_by",
		r.ID, r.Name, r.Path, r.AlertSuppression.GroupBy, keyField, keyField, keyField)
}

// Apply passes the alert of m (document doc with ID id, as
// rules.RuleSet.Alert built it) through suppression and returns what to
// produce, in order: possibly the summary of a window the alert ends, then
// the alert itself unless it is suppressed.
func (s *State) Apply(m engine.Match, doc []byte, id string) ([]Output, Decision, error) {
	c := s.byRule[m.Rule]
	if c == nil {
		return []Output{{Doc: doc, ID: id}}, Unsuppressed, nil
	}
	terms, missing, host, err := termsOf(doc, m.Refs, c.s.GroupBy)
	if err != nil {
		return nil, 0, fmt.Errorf("rule %s: suppression terms: %w", c.r.ID, err)
	}
	if missing && c.s.MissingFieldsStrategy == "doNotSuppress" {
		return []Output{{Doc: doc, ID: id, Rule: c.r}}, Unsuppressed, nil
	}
	k := wkey{rule: c.r.ID, key: termsKey(c.r.ID, terms)}
	ts := m.Timestamp
	var out []Output
	if w := s.open[k]; w != nil {
		if ts < w.end {
			nw := *w
			nw.docs++
			nw.last = max(nw.last, ts)
			s.set(k, &nw)
			return nil, Suppressed, nil
		}
		if o, ok := s.summary(w); ok {
			out = append(out, o)
		}
		s.set(k, nil)
	}
	w := &window{rule: c.r.ID, first: ts, last: ts, end: windowEnd(c.s, ts), id: id, terms: terms, host: host, fp: c.finger}
	s.set(k, w)
	out = append(out, Output{Doc: withSuppression(doc, w, 0), ID: id, Rule: c.r})
	return out, Opened, nil
}

// ApplyDocs is Apply for an alert rendered as several documents (Elastic's
// format: a sequence's shell, then its building blocks): suppression
// decides on the first document, and the others go out with it or not at
// all. Outputs after the first carry Member.
func (s *State) ApplyDocs(m engine.Match, docs []rules.AlertDoc) ([]Output, Decision, error) {
	out, dec, err := s.Apply(m, docs[0].Doc, docs[0].ID)
	if err != nil || dec == Suppressed {
		return out, dec, err
	}
	r := out[len(out)-1].Rule
	for _, d := range docs[1:] {
		out = append(out, Output{Doc: d.Doc, ID: d.ID, Rule: r, Member: true})
	}
	return out, dec, nil
}

// Close closes the windows whose end the watermark wm has reached and
// returns the summaries of those that suppressed alerts, in order of end,
// rule and terms.
func (s *State) Close(wm int64) []Output {
	if wm < s.minEnd {
		return nil
	}
	var done []wkey
	next := int64(math.MaxInt64)
	for k, w := range s.open {
		if w.end <= wm {
			done = append(done, k)
		} else {
			next = min(next, w.end)
		}
	}
	s.minEnd = next
	sort.Slice(done, func(i, j int) bool {
		a, b := s.open[done[i]], s.open[done[j]]
		if a.end != b.end {
			return a.end < b.end
		}
		if a.rule != b.rule {
			return a.rule < b.rule
		}
		return string(a.terms) < string(b.terms)
	})
	var out []Output
	for _, k := range done {
		if o, ok := s.summary(s.open[k]); ok {
			out = append(out, o)
		}
		s.set(k, nil)
	}
	return out
}

func (s *State) summary(w *window) (Output, bool) {
	if w.docs == 0 {
		return Output{}, false
	}
	c := s.byID[w.rule]
	doc, id := summaryDoc(c.r, w)
	return Output{Doc: doc, ID: id, Rule: c.r, Summary: true}, true
}

// set changes one window (nil: remove), keeping the undo record.
func (s *State) set(k wkey, w *window) {
	if s.track {
		if _, ok := s.undo[k]; !ok {
			s.undo[k] = s.open[k]
		}
	}
	if w == nil {
		delete(s.open, k)
		return
	}
	s.open[k] = w
	s.minEnd = min(s.minEnd, w.end)
}

// windowEnd is the exclusive end of the window an alert at ts opens.
func windowEnd(c *rules.AlertSuppression, ts int64) int64 {
	if c.Duration > 0 {
		return satAdd(ts, int64(c.Duration))
	}
	iv := int64(c.Interval)
	if iv <= 0 {
		iv = int64(5 * time.Minute)
	}
	start := ts - ((ts%iv)+iv)%iv // floor, also for negative times
	return satAdd(start, iv)
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// OpenOf is the number of open windows of one rule.
func (s *State) OpenOf(ruleID string) int {
	n := 0
	for k := range s.open {
		if k.rule == ruleID {
			n++
		}
	}
	return n
}
