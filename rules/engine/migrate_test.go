package engine

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/eqlstream/eqlstream/rules/eql"
)

func migDefs(t *testing.T, defs map[string]string, order ...string) *Program {
	t.Helper()
	var ds []RuleDef
	for _, id := range order {
		ds = append(ds, RuleDef{ID: id, Source: &eql.Source{Text: defs[id]}})
	}
	p, err := Compile(ds, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	migAB = `sequence by host.id [process where process.name == "a"] [process where process.name == "b"]`
	migAC = `sequence by host.id [process where process.name == "a"] [process where process.name == "c"]`
)

func migEv(sec int, host, name string) string {
	return fmt.Sprintf(`{"@timestamp":"2026-01-01T00:00:%02dZ","event":{"category":"process"},"host":{"id":%q},"process":{"name":%q}}`, sec, host, name)
}

type refsOf map[string][][]uint64

func collect(into refsOf, ms []Match) {
	for _, m := range ms {
		into[m.Rule.ID] = append(into[m.Rule.ID], append([]uint64(nil), m.Refs...))
	}
}

// TestMigrate changes the rule set mid-stream: the unchanged rule keeps its
// partial matches (its alerts equal a run over the whole stream), the
// changed rule starts empty (its alerts equal a run over the events after
// the boundary), the deleted rule's groups are returned as tombstones, and
// restoring the committed state with ApplyMetaFrom gives the same engine as
// Migrate.
func TestMigrate(t *testing.T) {
	oldP := migDefs(t, map[string]string{"keep": migAB, "chg": migAB, "gone": migAB}, "chg", "gone", "keep")
	newP := migDefs(t, map[string]string{"keep": migAB, "chg": migAC, "add": migAB}, "add", "chg", "keep")
	if oldP.RuleByID("keep").Fingerprint != newP.RuleByID("keep").Fingerprint {
		t.Fatal("unchanged rule has a new fingerprint")
	}
	if oldP.RuleByID("chg").Fingerprint == newP.RuleByID("chg").Fingerprint {
		t.Fatal("changed rule kept its fingerprint")
	}
	before := []string{migEv(1, "h1", "a"), migEv(2, "h2", "a"), migEv(6, "h1", "x"), migEv(7, "h2", "a")} // h2's a@7 stays buffered
	after := []string{migEv(8, "h1", "b"), migEv(9, "h2", "b"), migEv(10, "h1", "a"), migEv(11, "h1", "c"), migEv(12, "h1", "b"), migEv(30, "h3", "x")}

	e := oldP.NewEngine()
	e.Begin()
	var ref uint64
	got := refsOf{}
	for _, raw := range before {
		collect(got, mustProcess(t, e, raw, ref))
		ref++
	}
	deltas, meta := e.Commit()
	if e.Stats().Buffered == 0 || e.Stats().LiveStates == 0 {
		t.Fatalf("want buffered hits and live state at the boundary, have %+v", e.Stats())
	}
	ne, dropped := e.Migrate(newP)
	var droppedRules []string
	for _, d := range dropped {
		if d.Value != nil {
			t.Fatalf("dropped group with a value: %+v", d)
		}
		droppedRules = append(droppedRules, d.RuleID)
	}
	if !reflect.DeepEqual(droppedRules, []string{"chg", "chg", "gone", "gone"}) {
		t.Fatalf("dropped groups of %v, want chg and gone for h1 and h2", droppedRules)
	}

	// the restore path: committed groups of kept rules, the meta record
	// read with the old layout
	re := newP.NewEngine()
	if err := re.ApplyMetaFrom(meta, oldP.Layout(), oldP.Hash()); err != nil {
		t.Fatal(err)
	}
	for _, d := range deltas {
		if r := newP.RuleByID(d.RuleID); r != nil && r.Fingerprint == oldP.RuleByID(d.RuleID).Fingerprint {
			if err := re.ApplyDelta(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	re.Rebuild()
	if !bytes.Equal(re.Snapshot(), ne.Snapshot()) {
		t.Fatal("restoring with the old layout differs from Migrate")
	}
	if err := re.ApplyMetaFrom(meta, newP.Layout(), newP.Hash()); err == nil {
		t.Fatal("meta record accepted with another program's hash")
	}

	for _, raw := range after {
		collect(got, mustProcess(t, ne, raw, ref))
		ref++
	}
	collect(got, ne.Flush())

	// references: keep over everything, chg and add over the events after
	whole := migDefs(t, map[string]string{"keep": migAB}, "keep").NewEngine()
	tail := migDefs(t, map[string]string{"chg": migAC, "add": migAB}, "add", "chg").NewEngine()
	want := refsOf{}
	for i, raw := range append(append([]string{}, before...), after...) {
		collect(want, mustProcess(t, whole, raw, uint64(i)))
		if i >= len(before) {
			collect(want, mustProcess(t, tail, raw, uint64(i)))
		}
	}
	collect(want, whole.Flush())
	collect(want, tail.Flush())
	for _, id := range []string{"keep", "chg", "add"} {
		if len(want[id]) == 0 {
			t.Fatalf("reference run has no %s match: the test does not exercise it", id)
		}
	}
	if !reflect.DeepEqual(got["keep"], want["keep"]) || !reflect.DeepEqual(got["chg"], want["chg"]) || !reflect.DeepEqual(got["add"], want["add"]) {
		t.Fatalf("matches after migration\n got %v\nwant %v", got, want)
	}
}
