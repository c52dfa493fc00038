package partition

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/eql"
)

// changedSet is the built-ins at revision "2": the sequence rule's query
// is edited (a new state machine), the first event rule is deleted.
func changedSet(t *testing.T) (set *rules.RuleSet, changed, deleted string) {
	t.Helper()
	var rs []*rules.Rule
	for _, r := range rules.Builtin() {
		if strings.Contains(r.Query, "sequence") && changed == "" {
			changed = r.ID
			r.Query += " "
			r.Source = &eql.Source{Name: r.Source.Name, Text: r.Source.Text + " "}
		} else if !strings.Contains(r.Query, "sequence") && deleted == "" {
			deleted = r.ID
			continue
		}
		rs = append(rs, r)
	}
	set, err := rules.Compile(rs, engine.Options{TimestampField: "@timestamp", CategoryField: "event.category",
		AllowedDisorder: 2 * time.Second, MaxStates: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	set.Revision = "2"
	return set, changed, deleted
}

// compacted is the latest value of every key of a state log.
func (l *stateLog) compacted() map[string][]byte {
	m := map[string][]byte{}
	for _, r := range l.recs {
		if r.Value == nil {
			delete(m, string(r.Key))
		} else {
			m[string(r.Key)] = r.Value
		}
	}
	return m
}

// TestRuleChangeLiveAndRestored changes the rule set at a transaction
// boundary in two ways, live (Migrate) and by restoring the committed state
// under the new revision: both commit the same records, continue with the
// same matches, delete the changed and deleted rules' state, and record the
// revision and its start in the meta record.
func TestRuleChangeLiveAndRestored(t *testing.T) {
	setA := scenarioSet(t)
	setA.Revision = "1"
	setB, changed, deleted := changedSet(t)
	evs := scenarioEvents(t)
	// the first boundary with the sequence rule's state pending
	var base stateLog
	var p *Processor
	cut := 0
	for cut = 1; cut < len(evs); cut++ {
		base = stateLog{}
		p = New(tp, setA, 0)
		process(t, p, evs, 0, cut, &base, true)
		if p.Engine.Stats().LiveStates > 0 {
			break
		}
	}
	hasGroup := func(m map[string][]byte, id string) bool {
		for k := range m {
			if strings.HasPrefix(k, KeyPrefix(tp)+"r/"+id+"/") {
				return true
			}
		}
		return false
	}
	if !hasGroup(base.compacted(), changed) {
		t.Fatalf("no state of the sequence rule %s at the boundary: the test does not exercise a change", changed)
	}

	// live
	live := stateLog{recs: append([]StateRecord(nil), base.recs...)}
	p.Migrate(setB)
	if !p.NeedsCommit() {
		t.Fatal("a migration needs no commit")
	}
	p.Begin()
	live.recs = append(live.recs, p.PendingState()...)
	migLive := live.recs[len(base.recs):]
	p.Committed()
	if p.NeedsCommit() {
		t.Fatal("still needs a commit after committing")
	}
	// restored
	restored := stateLog{recs: append([]StateRecord(nil), base.recs...)}
	q, err := restored.restore(t, setB, int64(cut))
	if err != nil {
		t.Fatal(err)
	}
	if !q.NeedsCommit() {
		t.Fatal("restoring under a new revision needs no commit")
	}
	q.Begin()
	restored.recs = append(restored.recs, q.PendingState()...)
	migRestored := restored.recs[len(base.recs):]
	q.Committed()
	if !reflect.DeepEqual(migLive, migRestored) {
		t.Fatalf("live migration committed\n%q\nrestore committed\n%q", keys(migLive), keys(migRestored))
	}
	c := live.compacted()
	if hasGroup(c, changed) || hasGroup(c, deleted) {
		t.Fatalf("state of the changed or deleted rule survives: %q", keysOf(c))
	}
	m, err := DecodeMeta(c[string(MetaKey(tp))])
	if err != nil || m.Version != 3 || m.Revision != "2" || m.RulesFrom != int64(cut) {
		t.Fatalf("meta after the change: %+v, %v", m, err)
	}
	man, err := DecodeManifest(c[string(RulesKey(tp))])
	if err != nil || man.Revision != "2" || !reflect.DeepEqual(man.Layout, setB.Program.Layout()) {
		t.Fatalf("rules record after the change: %+v, %v", man, err)
	}
	a := process(t, p, evs, cut, len(evs), &live, true)
	b := process(t, q, evs, cut, len(evs), &restored, true)
	if !reflect.DeepEqual(a, b) || !bytes.Equal(p.Engine.Snapshot(), q.Engine.Snapshot()) {
		t.Fatalf("live and restored runs differ after the change:\n%v\n%v", a, b)
	}
	// restoring again under the same revision changes nothing
	r, err := live.restore(t, setB, int64(len(evs)))
	if err != nil || r.NeedsCommit() || r.Revision != "2" || r.RulesFrom != int64(cut) {
		t.Fatalf("restore at the same revision: %+v, %v", r, err)
	}
	var h FlushHistory
	for _, rec := range live.recs {
		if string(rec.Key) == string(MetaKey(tp)) {
			if err := h.Add(rec.Value); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := []RevisionPoint{{0, "1", 0}, {int64(cut), "2", 0}}; !reflect.DeepEqual(h.Revisions, want) {
		t.Fatalf("revision history %v, want %v", h.Revisions, want)
	}
}

func keys(rs []StateRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Key))
	}
	return out
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDecodeMetaVersion2 keeps version-2 records readable.
func TestDecodeMetaVersion2(t *testing.T) {
	v := []byte{2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 9}
	m, err := DecodeMeta(v)
	if err != nil || m.Next != 7 || m.Flushes != 1 || m.LastFlush != 5 || m.Revision != "" || !bytes.Equal(m.Engine, []byte{9}) {
		t.Fatalf("%+v, %v", m, err)
	}
}
