package eql

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// checkQuery parses and checks q, returning the warning and error texts
// (Error(), i.e. "query:line:col: message").
func checkQuery(t *testing.T, q string) (warns, errs []string) {
	t.Helper()
	src := &Source{Text: q}
	st, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	w, err := Check(st, src)
	for _, e := range w {
		warns = append(warns, e.Error())
	}
	if err != nil {
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("Check(%q): %T %v is not a non-empty Errors", q, err, err)
		}
		for i, e := range es {
			if i > 0 && e.Pos < es[i-1].Pos {
				t.Errorf("Check(%q): errors not sorted by position", q)
			}
			errs = append(errs, e.Error())
		}
	}
	return warns, errs
}

func TestLookupFunc(t *testing.T) {
	for _, c := range []struct {
		name string
		want FuncInfo
	}{
		{"add", FuncInfo{"add", 2, 2, false}},
		{"between", FuncInfo{"between", 3, 4, true}},
		{"cidrMatch", FuncInfo{"cidrMatch", 2, -1, false}},
		{"cidrmatch", FuncInfo{"cidrMatch", 2, -1, false}},
		{"CIDRMATCH", FuncInfo{"cidrMatch", 2, -1, false}},
		{"concat", FuncInfo{"concat", 1, -1, false}},
		{"divide", FuncInfo{"divide", 2, 2, false}},
		{"endsWith", FuncInfo{"endsWith", 2, 2, true}},
		{"endswith", FuncInfo{"endsWith", 2, 2, true}},
		{"indexOf", FuncInfo{"indexOf", 2, 3, true}},
		{"length", FuncInfo{"length", 1, 1, false}},
		{"modulo", FuncInfo{"modulo", 2, 2, false}},
		{"multiply", FuncInfo{"multiply", 2, 2, false}},
		{"number", FuncInfo{"number", 1, 2, false}},
		{"startsWith", FuncInfo{"startsWith", 2, 2, true}},
		{"startswith", FuncInfo{"startsWith", 2, 2, true}},
		{"string", FuncInfo{"string", 1, 1, false}},
		{"stringContains", FuncInfo{"stringContains", 2, 2, true}},
		{"substring", FuncInfo{"substring", 2, 3, false}},
		{"subtract", FuncInfo{"subtract", 2, 2, false}},
	} {
		got, ok := LookupFunc(c.name)
		if !ok || got != c.want {
			t.Errorf("LookupFunc(%q) = %+v, %v; want %+v", c.name, got, ok, c.want)
		}
	}
	for _, name := range []string{"", "wildcard", "arrayContains", "match", "startsWith~", "sum"} {
		if f, ok := LookupFunc(name); ok {
			t.Errorf("LookupFunc(%q) = %+v, want not found", name, f)
		}
	}
}

func TestCheckValid(t *testing.T) {
	for _, q := range []string{
		`process where true`,
		`any where a == 1 and b != "x" and c < 2.5 and d >= -1 and e == null and f != null and g == true`,
		`any where 1 == a`,
		`any where a : ("x*", "y?") and b like "x" and c like~ ("a", "b") and d regex ".*" and e regex~ "[a-z]"`,
		`any where a in (1, 2) and b in~ ("x") and c not in ("y") and not d in ("z") and e not in~ ("w")`,
		`any where ?a.b != null and ?c : "x"`,
		"any where `a-b`.c == 1",
		`any where a + 1 * 2 - b / 3 % 4 > 0 and -a < 0`,
		`any where add(a, 1) == 2 and subtract(a, b) > 0 and multiply(2, 3) == a and divide(a, 2.0) < 1 and modulo(a, 2) == 0`,
		`any where between(a, "x", "y") == "z" and between~(a, "x", "y", true) : "z" and between(a, "x", "y", null) == "z"`,
		`any where cidrMatch(ip, "10.0.0.0/8") and cidrmatch(ip, "192.168.0.0/16", "10.0.0.1", "FE80::/10", "::1", "fc00::/7", null)`,
		`any where concat(a) == "x" and concat(a, " ", 42, 4.5, true, null) == "y"`,
		`any where endsWith(a, "x") and endsWith~(a, b) and startsWith(a, "x") and startswith~(a, b)`,
		`any where indexOf(a, "x") == 0 and indexOf~(a, "x", 9) > 0 and indexOf(a, "x", -6) == 0`,
		`any where length(a) > 3 and length("abc") == 3 and length(null) == null`,
		`any where number(a) == 1 and number("ff", 16) == 255 and number(a, null) == 1`,
		`any where string(a) == "1" and string(42) == "42" and string(true) : "t*"`,
		`any where stringContains(a, "x") and stringContains~(a, b) and not stringcontains(a, "y")`,
		`any where substring(a, 6) == "x" and substring(a, -4, -1) == "y" and substring(a, 0, length(a) - 1) : "z"`,
		`any where startswith~(host.name, substring(user.name, 0, -1))`,
		`any where endswith~(substring(a, 0, length(a) - (length(b) + 1)), substring(c, 0, length(c) - (length(d) + 1)))`,
		`any where length(a) - length(b) > 0`,
		`any where startsWith(a, "x") == true`,
		`sequence by host.id with maxspan=1m [a where true] by x [b where true] by y until [c where true] by z`,
		`sequence with maxspan=1m [a where true] by host.id ![b where true] by host.id`,
		`sample by host.id [a where true] [b where true]`,
	} {
		warns, errs := checkQuery(t, q)
		if len(errs) > 0 || len(warns) > 0 {
			t.Errorf("Check(%q)\n errors: %q\n warnings: %q", q, errs, warns)
		}
	}
}

func TestCheckErrors(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		// functions
		{`any where foo(a)`, "query:1:11: unknown function foo"},
		{`any where startWith(a, "x")`, "query:1:11: unknown function startWith; did you mean startsWith?"},
		{`any where Cidrmatches(a, "x")`, "query:1:11: unknown function Cidrmatches; did you mean cidrMatch?"},
		{`any where wildcard(a, "x*")`, "query:1:11: unknown function wildcard"},
		{`any where startsWith(a)`, "query:1:23: startsWith takes 2 arguments, found 1"},
		{`any where startsWith(a, "b", "c")`, "query:1:30: startsWith takes 2 arguments, found 3"},
		{`any where length() == 1`, "query:1:18: length takes 1 argument, found 0"},
		{`any where length(a, b) == 1`, "query:1:21: length takes 1 argument, found 2"},
		{`any where concat() == ""`, "query:1:18: concat takes at least 1 argument, found 0"},
		{`any where cidrMatch(ip)`, "query:1:23: cidrMatch takes at least 2 arguments, found 1"},
		{`any where between(a, "x") == ""`, "query:1:25: between takes 3 or 4 arguments, found 2"},
		{`any where between(a, "x", "y", true, false) == ""`, "query:1:38: between takes 3 or 4 arguments, found 5"},
		{`any where indexOf(a, "x", 1, 2) == 0`, "query:1:30: indexOf takes 2 or 3 arguments, found 4"},
		{`any where substring(a) == ""`, "query:1:22: substring takes 2 or 3 arguments, found 1"},
		{`any where number(a, 10, 1) == 0`, "query:1:25: number takes 1 or 2 arguments, found 3"},
		{`any where add(1) == 0`, "query:1:16: add takes 2 arguments, found 1"},
		{`any where subtract(1, 2, 3) == 0`, "query:1:26: subtract takes 2 arguments, found 3"},
		{`any where length~(a) == 1`, "query:1:11: length has no case-insensitive variant: remove the ~"},
		{`any where cidrMatch~(a, "10.0.0.0/8")`, "query:1:11: cidrMatch has no case-insensitive variant: remove the ~"},
		{`any where concat~(a) == "x"`, "query:1:11: concat has no case-insensitive variant: remove the ~"},
		{`any where substring~(a, 1) == "x"`, "query:1:11: substring has no case-insensitive variant: remove the ~"},
		{`any where string~(a) == "x"`, "query:1:11: string has no case-insensitive variant: remove the ~"},
		{`any where number~(a) == 1`, "query:1:11: number has no case-insensitive variant: remove the ~"},
		{`any where add~(a, 1) == 1`, "query:1:11: add has no case-insensitive variant: remove the ~"},
		{`any where startsWith(a, true)`, "query:1:25: argument 2 of startsWith must be a string, found boolean true"},
		{`any where startsWith(1, "x")`, "query:1:22: argument 1 of startsWith must be a string, found number 1"},
		{`any where endsWith(a, length(b))`, "query:1:23: argument 2 of endsWith must be a string, found number length(b)"},
		{`any where stringContains(a, b == "x")`, `query:1:29: argument 2 of stringContains must be a string, found the condition b == "x"`},
		{`any where length(false) == 1`, "query:1:18: argument 1 of length must be a string, found boolean false"},
		{`any where add("1", 2) == 3`, `query:1:15: argument 1 of add must be a number, found string "1"`},
		{`any where substring(a, 1.5) == "x"`, "query:1:24: argument 2 of substring must be an integer, found number 1.5"},
		{`any where indexOf(a, "x", "0") == 0`, `query:1:27: argument 3 of indexOf must be an integer, found string "0"`},
		{`any where between(a, "x", "y", "yes") == ""`, `query:1:32: argument 4 of between must be a boolean, found string "yes"`},
		{`any where number(a, b) == 1`, "query:1:21: argument 2 of number must be an integer literal, found b"},
		{`any where number(a, 40) == 1`, "query:1:21: argument 2 of number must be a base between 2 and 36, found 40"},
		{`any where cidrMatch(ip, 10)`, `query:1:25: argument 2 of cidrMatch must be a string such as "10.0.0.0/8", found number 10`},
		{`any where cidrMatch(ip, "10.0.0.0/8", true)`, `query:1:39: argument 3 of cidrMatch must be a string such as "10.0.0.0/8", found boolean true`},
		{`any where cidrMatch(ip, "10.0.0.0/33")`, `query:1:25: argument 2 of cidrMatch is not a CIDR block or IP address: "10.0.0.0/33"`},
		{`any where cidrMatch(ip, "10.0.0/8")`, `query:1:25: argument 2 of cidrMatch is not a CIDR block or IP address: "10.0.0/8"`},
		{`any where cidrMatch(ip, "FE80::/129")`, `query:1:25: argument 2 of cidrMatch is not a CIDR block or IP address: "FE80::/129"`},
		{`any where cidrMatch(ip, "localhost")`, `query:1:25: argument 2 of cidrMatch is not a CIDR block or IP address: "localhost"`},
		{`any where cidrMatch(ip, other.ip)`, `query:1:25: argument 2 of cidrMatch must be a constant string such as "10.0.0.0/8", found other.ip`},
		{`any where cidrMatch(1, "10.0.0.0/8")`, "query:1:21: argument 1 of cidrMatch must be an IP address, found number 1"},
		{`any where cidrMatch("10.0.0.300", "10.0.0.0/8")`, `query:1:21: argument 1 of cidrMatch is not an IP address: "10.0.0.300"`},

		// comparisons
		{`any where a == b`, "query:1:16: comparing a field with another field is not supported (a == b): compare each with a constant"},
		{`any where process.parent.name == "foo" and process.parent.name == process.name`,
			"query:1:67: comparing a field with another field is not supported (process.parent.name == process.name): compare each with a constant"},
		{`any where length(a) < length(b)`, "query:1:23: comparing a field with another field is not supported (length(a) < length(b)): compare each with a constant"},
		{`any where a + 1 >= b`, "query:1:20: comparing a field with another field is not supported (a + 1 >= b): compare each with a constant"},
		{`any where a in (b, "x")`, "query:1:17: comparing a field with another field is not supported (b in a list): the values must be constants"},
		{`any where a in ("x", length(b))`, "query:1:22: comparing a field with another field is not supported (length(b) in a list): the values must be constants"},
		{`any where (a == 1) == true`, "query:1:12: cannot compare the condition a == 1 with ==; combine conditions with and, or, not"},
		{`any where a != (b : "x")`, `query:1:17: cannot compare the condition b : "x" with !=; combine conditions with and, or, not`},
		{`any where (a in (1)) == false`, "query:1:12: cannot compare the condition a in (1) with ==; combine conditions with and, or, not"},
		{`any where (a == 1) in (true)`, "query:1:12: in needs a value on its left, found the condition a == 1"},
		{`any where a in (b == 1)`, "query:1:17: in needs values, found the condition b == 1"},
		{`any where length(a) == "3"`, `query:1:24: cannot compare number length(a) with string "3"`},
		{`any where 1 == "1"`, `query:1:16: cannot compare number 1 with string "1"`},
		{`any where length(a) in ("3")`, `query:1:25: cannot compare number length(a) with string "3"`},
		{`any where length(a) : "3"`, "query:1:11: : works on strings only, found number length(a)"},
		{`any where (a == 1) like "x"`, "query:1:12: like works on strings only, found the condition a == 1"},
		{`any where 5 regex~ "5"`, "query:1:11: regex~ works on strings only, found number 5"},

		// conditions and arithmetic
		{`any where 1`, "query:1:11: expected a condition, found number 1"},
		{`any where "yes"`, `query:1:11: expected a condition, found string "yes"`},
		{`any where a == 1 and "x"`, `query:1:22: expected a condition, found string "x"`},
		{`any where not length(a)`, "query:1:15: expected a condition, found number length(a)"},
		{`any where a + 1`, "query:1:11: expected a condition, found number a + 1"},
		{`any where "a" + 1 == 2`, `query:1:11: + needs numbers, found string "a"`},
		{`any where -true == 1`, "query:1:12: - needs numbers, found boolean true"},
		{`any where (a == 1) * 2 == 2`, "query:1:12: * needs numbers, found the condition a == 1"},

		// fields, pipes, statements
		{`any where a[0] == 1`, "query:1:11: array subscripts are not supported: a[0]"},
		{`any where ?a.b[1] == 1`, "query:1:11: array subscripts are not supported: ?a.b[1]"},
		{`sequence by a[0] [x where true] [y where true]`, "query:1:13: array subscripts are not supported: a[0]"},
		{`any where true | head 5`, "query:1:16: pipes are not supported"},
		{`sequence [a where true] [b where true] | tail 1`, "query:1:40: pipes are not supported"},

		// join keys
		{`sequence [a where true] by x [b where true] by x, y`, "query:1:48: inconsistent number of join keys: expected 1, as in the first stage, but found 2"},
		{`sequence [a where true] by x [b where true]`, "query:1:30: inconsistent number of join keys: expected 1, as in the first stage, but found 0"},
		{`sequence by h [a where true] [b where true] by x`, "query:1:48: inconsistent number of join keys: expected 0, as in the first stage, but found 1"},
		{`sequence [a where true] by x [b where true] by y until [c where true]`, "query:1:56: the until stage has 0 join keys but the other stages have 1"},
		{`sequence [a where true] [b where true] until [c where true] by z`, "query:1:64: the until stage has 1 join keys but the other stages have 0"},
		{`sample by host.id [a where true] by x [b where true] by x, y`, "query:1:57: inconsistent number of join keys: expected 1, as in the first stage, but found 2"},
		{`sequence [a where true] ![b where true] [c where true]`, "query:1:25: a missing-event stage ![...] needs the sequence to have with maxspan"},
	} {
		_, errs := checkQuery(t, c.query)
		if len(errs) == 0 || errs[0] != c.want {
			t.Errorf("Check(%q)\n got: %q\nwant: %q", c.query, errs, c.want)
		}
	}
}

// TestCheckErrorDetail asserts the full caret text of checker errors,
// including a query embedded in a TOML file.
func TestCheckErrorDetail(t *testing.T) {
	runErrCases(t, []errCase{
		{"unknown function", q(`process where foo(process.name)`), `query:1:15: unknown function foo
    process where foo(process.name)
                  ^`, true},
		{"wrong arity", q(`process where startsWith~(process.name)`), `query:1:39: startsWith takes 2 arguments, found 1
    process where startsWith~(process.name)
                                          ^`, true},
		{"field to field in TOML", &Source{Name: "rules/x.toml", Text: "process where\n  process.name == process.parent.name", Line: 20, Col: 1},
			`rules/x.toml:21:19: comparing a field with another field is not supported (process.name == process.parent.name): compare each with a constant
      process.name == process.parent.name
                      ^`, true},
		{"pipe", q("process where true\n| head 5"), `query:2:1: pipes are not supported
    | head 5
    ^`, true},
		{"join keys", q("sequence\n  [a where true] by x\n  [b where true] by x, y"), `query:3:21: inconsistent number of join keys: expected 1, as in the first stage, but found 2
      [b where true] by x, y
                        ^`, true},
	})
}

// TestCheckAllErrors checks that Check reports every error, sorted.
func TestCheckAllErrors(t *testing.T) {
	_, errs := checkQuery(t, `any where foo(a) and a == b and length~(c) == 1 | head 1`)
	want := []string{
		"query:1:11: unknown function foo",
		"query:1:27: comparing a field with another field is not supported (a == b): compare each with a constant",
		"query:1:33: length has no case-insensitive variant: remove the ~",
		"query:1:49: pipes are not supported",
	}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
}

func TestCheckWarnings(t *testing.T) {
	const (
		noMaxspan = "sequence without maxspan: in a rule its window is the rule's lookback (from, Kibana's default now-6m); an ad-hoc --query has no time bound, only --max-states"
		seqHost   = "join keys do not include a host-scoped field (host.id, host.name, host.hostname or agent.id): this sequence cannot be evaluated inside a host-partitioned stream"
		smpHost   = "join keys do not include a host-scoped field (host.id, host.name, host.hostname or agent.id): this sample cannot be evaluated inside a host-partitioned stream"
	)
	for _, c := range []struct {
		query string
		want  []string
	}{
		{`any where a == "*.exe"`, []string{"query:1:16: `*` in == is a literal character, not a wildcard; use : or like for wildcards"}},
		{`any where "cmd*.exe" == a`, []string{"query:1:11: `*` in == is a literal character, not a wildcard; use : or like for wildcards"}},
		{`any where a in ("\\\\*\\IPC$", "\\\\*\\C$")`, nil}, // Windows logs share paths with a literal * server
		{`any where a == "\\\\*\\*$"`, []string{"query:1:16: `*` in == is a literal character, not a wildcard; use : or like for wildcards"}},
		{`any where a != "what?"`, []string{"query:1:16: `?` in != is a literal character, not a wildcard; use : or like for wildcards"}},
		{`any where a in ("x", "/opt/vuso*", "y?")`, []string{
			"query:1:22: `*` in an in list is a literal character, not a wildcard; use : or like for wildcards",
			"query:1:36: `?` in an in list is a literal character, not a wildcard; use : or like for wildcards",
		}},
		{`any where a in~ ("*x")`, []string{"query:1:18: `*` in an in~ list is a literal character, not a wildcard; use : or like for wildcards"}},
		{`any where a not in ("*x")`, []string{"query:1:21: `*` in a not in list is a literal character, not a wildcard; use : or like for wildcards"}},
		{`any where not a in ("x*")`, []string{"query:1:21: `*` in an in list is a literal character, not a wildcard; use : or like for wildcards"}},
		{`any where length(a) == 1 and b == "x?y*"`, []string{"query:1:35: `?` in == is a literal character, not a wildcard; use : or like for wildcards"}},
		// wildcards where they are wildcards, or where nothing is compared with a field
		{`any where a : "*.exe" and b like "x?" and c like~ ("*", "?")`, nil},
		{`any where a regex ".*" and b regex~ ".?"`, nil},
		{`any where "*" == "*" and startsWith(a, "*")`, nil},
		{`any where a == """C:\*"""`, []string{"query:1:16: `*` in == is a literal character, not a wildcard; use : or like for wildcards"}},

		{`sequence by host.id [a where true] [b where true]`, []string{"query:1:1: " + noMaxspan}},
		{`sequence with maxspan=1m [a where true] [b where true]`, []string{"query:1:1: " + seqHost}},
		{`sequence [a where true] [b where true]`, []string{"query:1:1: " + noMaxspan, "query:1:1: " + seqHost}},
		{`sequence by user.name with maxspan=1m [a where true] [b where true]`, []string{"query:1:1: " + seqHost}},
		{`sequence by process.entity_id with maxspan=1m [a where true] [b where true]`, []string{"query:1:1: " + seqHost}},
		{`sequence by user.name, host.name with maxspan=1m [a where true] [b where true]`, nil},
		{`sequence by agent.id with maxspan=1m [a where true] [b where true]`, nil},
		{`sequence with maxspan=1m [a where true] by host.hostname [b where true] by host.hostname`, nil},
		{`sequence with maxspan=1m [a where true] by x, host.id [b where true] by y, host.name`, nil},
		{`sequence with maxspan=1m [a where true] by host.id [b where true] by user.name`, []string{"query:1:1: " + seqHost}},
		{`sequence with maxspan=1m [a where true] by host.id [b where true] by host.id until [c where true] by user.id`, []string{"query:1:1: " + seqHost}},
		{`sample by host.id, process.pid [a where true] [b where true]`, nil},
		{`sample by process.pid [a where true] [b where true]`, []string{"query:1:1: " + smpHost}},
		{`  sequence with maxspan=1m [a where a == "*"] [b where true]`, []string{
			"query:1:3: " + seqHost,
			"query:1:42: `*` in == is a literal character, not a wildcard; use : or like for wildcards",
		}},
	} {
		warns, errs := checkQuery(t, c.query)
		if len(errs) > 0 {
			t.Errorf("Check(%q): errors %q", c.query, errs)
		}
		if strings.Join(warns, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("Check(%q)\n got: %q\nwant: %q", c.query, warns, c.want)
		}
	}
}

// TestCheckHandBuilt covers statements the parser cannot produce but a
// program building an AST could.
func TestCheckHandBuilt(t *testing.T) {
	src := &Source{Text: "sample by host.id [a where true]"}
	ev := func(p Pos) *EventQuery {
		return &EventQuery{Pos: p, Category: "a", Where: &Literal{Pos: p + 8, Kind: LitBool, Bool: true}}
	}
	for _, c := range []struct {
		name string
		st   *Statement
		want string
	}{
		{"one-stage sample", &Statement{Query: &SampleQuery{
			By:     []*Field{{Pos: 10, Path: []string{"host", "id"}}},
			Stages: []*Stage{{Pos: 18, Query: ev(19)}},
		}}, "query:1:1: a sample needs at least two stages"},
		{"one-stage sequence", &Statement{Query: &SequenceQuery{
			MaxSpan: time.Second,
			Stages:  []*Stage{{Pos: 18, Query: ev(19)}},
		}}, "query:1:1: a sequence needs at least two stages"},
		{"nil statement", nil, "query:1:1: no statement"},
		{"nil query", &Statement{}, "query:1:1: no query"},
		{"nil sequence", &Statement{Query: (*SequenceQuery)(nil)}, "query:1:1: no query"},
		{"nil sample", &Statement{Query: (*SampleQuery)(nil)}, "query:1:1: no query"},
		{"nil stage query", &Statement{Query: &SequenceQuery{MaxSpan: time.Second, Stages: []*Stage{{Pos: 18}, {Pos: 18, Query: ev(19)}}}}, "query:1:19: missing event query"},
		{"nil condition", &Statement{Query: &EventQuery{Category: "a"}}, "query:1:1: missing condition"},
		{"empty field", &Statement{Query: &EventQuery{Category: "a", Where: &Binary{Op: OpEq, Left: &Field{Pos: 3}, Right: &Literal{Kind: LitInt}}}}, "query:1:4: empty field name"},
	} {
		_, err := Check(c.st, src)
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 || errs[0].Error() != c.want {
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		}
	}
	// A nil Source is tolerated.
	if _, err := Check(&Statement{Query: ev(0)}, nil); err != nil {
		t.Errorf("nil source: %v", err)
	}
}

// TestCheckCapsDiagnostics checks that hostile input cannot produce an
// unbounded number of diagnostics.
func TestCheckCapsDiagnostics(t *testing.T) {
	q := "any where " + strings.Repeat(`a == "x*" and "s" and `, 500) + "true"
	warns, errs := checkQuery(t, q)
	if len(warns) != maxDiagnostics+1 || len(errs) != maxDiagnostics+1 {
		t.Fatalf("%d warnings, %d errors; want %d of each", len(warns), len(errs), maxDiagnostics+1)
	}
	if !strings.HasSuffix(errs[maxDiagnostics], ": 450 more errors not shown") ||
		!strings.HasSuffix(warns[maxDiagnostics], ": 450 more warnings not shown") {
		t.Errorf("last entries: %q, %q", errs[maxDiagnostics], warns[maxDiagnostics])
	}
}
