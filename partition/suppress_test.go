package partition

import (
	"os"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// TestSuppressionWindowsCommitRestoreAndRollBack: a partition's open
// suppression windows are written with its state records, restored by the
// Restorer, and rolled back when the transaction aborts.
func TestSuppressionWindowsCommitRestoreAndRollBack(t *testing.T) {
	src, err := os.ReadFile("../rules/suppress/testdata/sudo_suppressed.toml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := rules.ParseTOML("sudo.toml", src)
	if err != nil {
		t.Fatal(err)
	}
	if err := rules.AttachExceptions([]*rules.Rule{r}, nil, nil); err == nil {
		t.Fatal("the rule names an exception list; attaching none must fail")
	}
	r.Exceptions = nil
	if err := rules.AttachExceptions([]*rules.Rule{r}, nil, nil); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile([]*rules.Rule{r}, engine.Options{AllowedDisorder: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ev := []byte(`{"@timestamp":"2026-07-01T10:00:00Z","event":{"category":"process","type":"start"},"host":{"id":"A","os":{"type":"linux"}},"user":{"name":"root"},"process":{"name":"sudo"}}`)
	step := func(p *Processor, offset int64) {
		p.Begin()
		ms, _, err := p.Engine.Process(ev, uint64(offset))
		if err != nil || len(ms) != 1 {
			t.Fatalf("Process: %v, %d matches", err, len(ms))
		}
		doc, id, err := set.Alert(ms[0], func(uint64) ([]byte, bool) { return ev, true }, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.Suppress.Apply(ms[0], doc, id); err != nil {
			t.Fatal(err)
		}
		p.Next = offset + 1
	}
	p := New(tp, set, 0)
	step(p, 0)
	if err := p.Aborted(); err != nil {
		t.Fatal(err)
	}
	if p.Suppress.Open() != 0 {
		t.Fatalf("%d windows open after the abort, want 0", p.Suppress.Open())
	}
	step(p, 0)
	rs := NewRestorer(tp)
	for _, sr := range p.PendingState() {
		rs.Add(sr.Key, sr.Value)
	}
	p.Committed()
	if p.Suppress.Open() != 1 {
		t.Fatalf("%d windows open after the commit, want 1", p.Suppress.Open())
	}
	q, err := rs.Build(set, 1)
	if err != nil {
		t.Fatal(err)
	}
	if q.Suppress.Open() != 1 {
		t.Fatalf("restored %d windows, want 1", q.Suppress.Open())
	}
}
