package lint

import (
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
)

func lintQuery(t *testing.T, q string, o Options) []string {
	t.Helper()
	st, err := eql.ParseString(q)
	if err != nil {
		t.Fatal(err)
	}
	if o.Types == nil {
		o.Types = fieldtype.Builtin()
	}
	var out []string
	for _, w := range Rule(st, &eql.Source{Text: q}, o) {
		out = append(out, w.Msg)
	}
	return out
}

// TestLint: each class on its own, and what must stay quiet.
func TestLint(t *testing.T) {
	cases := []struct {
		q    string
		o    Options
		want []string // message prefixes, in order
	}{
		{q: `process where process.name == "sh"`},
		{q: `proces where true`, want: []string{"unknown event category proces; did you mean process?"}},
		{q: `netwrk where true`, want: []string{"unknown event category netwrk; did you mean network?"}},
		{q: `widget where true`, want: []string{"unknown event category widget: ECS defines"}},
		{q: `widget where true`, o: Options{CategoryOverride: true}},
		{q: `process where user.nmae == "root"`, want: []string{"unknown field user.nmae; did you mean user.name?"}},
		{q: `process where user.nmae == "root" and user.nmae != "x"`, want: []string{"unknown field user.nmae"}}, // once
		{q: `process where user.nmae == "root"`, o: Options{Known: []string{"user.nmae"}}},
		{q: `sequence by host.idd [process where true] [process where true]`, want: []string{"unknown field host.idd; did you mean host.id?"}},
		{q: `process where winlog.event_data.Whatever == "x" and process.Ext.x == "y" and Effective_process.z == "a"`},
		{q: `process where startsWith(process.executablee, "/tmp")`, want: []string{"unknown field process.executablee; did you mean process.executable?"}},
		{q: `process where ?event.category == "process"`, o: Options{Always: []string{"@timestamp", "event.category"}},
			want: []string{"optional ? on a field every event has (?event.category)"}},
		{q: `process where ?process.parent.name == "x"`, o: Options{Always: []string{"@timestamp", "event.category"}}},
		{q: `network where destination.ip like "10.*"`, want: []string{"pattern on a non-string field can never be true (like on destination.ip, a ip field)"}},
		{q: `network where destination.domain like "*.ru"`},
	}
	for _, c := range cases {
		got := lintQuery(t, c.q, c.o)
		if len(got) != len(c.want) {
			t.Errorf("%s: %q, want %q", c.q, got, c.want)
			continue
		}
		for i := range got {
			if !strings.HasPrefix(got[i], c.want[i]) {
				t.Errorf("%s: %q, want prefix %q", c.q, got[i], c.want[i])
			}
		}
	}
}
