package eql

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The expected trees below are written by hand from the EQL syntax reference
// (Elasticsearch docs/reference/query-languages/eql/eql-syntax.md) in the
// S-expression form of Statement.String: (where CATEGORY COND), (op LEFT
// RIGHT), (call NAME ARGS...), (sequence (by ...) (maxspan D) (stage ...)...).

type parseCase struct {
	name, query, want string
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := ParseString(c.query)
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.query, err)
			}
			if got := st.String(); got != c.want {
				t.Errorf("Parse(%q)\n got: %s\nwant: %s", c.query, got, c.want)
			}
			// Format is the inverse of Parse.
			st2, err := ParseString(Format(st))
			if err != nil {
				t.Fatalf("Parse(Format) of %q: %v\n%s", c.query, err, Format(st))
			}
			if got := st2.String(); got != c.want {
				t.Errorf("Format(%q) = %s\nreparses as %s", c.query, Format(st), got)
			}
		})
	}
}

func TestParseEventQueries(t *testing.T) {
	runParseCases(t, []parseCase{
		{"true", `process where true`, `(where "process" true)`},
		{"false", `file where false`, `(where "file" false)`},
		{"any", `any where network.protocol == "http"`, `(where any (== network.protocol "http"))`},
		{"quoted category", `"my-event category" where true`, `(where "my-event category" true)`},
		{"raw category", `""".my.event.category""" where true`, `(where ".my.event.category" true)`},
		{"string any is a category", `"any" where true`, `(where "any" true)`},
		{"leading space and newlines", "\n\t  process\nwhere\r\n  true  \n", `(where "process" true)`},
		{"field alone", `process where process.code_signature.trusted`, `(where "process" process.code_signature.trusted)`},
		{"at-sign", `any where @timestamp > 0`, `(where any (> @timestamp 0))`},
	})
}

func TestParseBoolean(t *testing.T) {
	runParseCases(t, []parseCase{
		{"and binds tighter than or", `any where a == 1 or b == 2 and c == 3`,
			`(where any (or (== a 1) (and (== b 2) (== c 3))))`},
		{"and before or", `any where a == 1 and b == 2 or c == 3`,
			`(where any (or (and (== a 1) (== b 2)) (== c 3)))`},
		{"left associative and", `any where a and b and c`, `(where any (and (and a b) c))`},
		{"left associative or", `any where a or b or c`, `(where any (or (or a b) c))`},
		{"not binds tighter than and", `any where not a == 1 and b == 2`,
			`(where any (and (not (== a 1)) (== b 2)))`},
		{"not not", `any where not not a`, `(where any (not (not a)))`},
		{"parentheses", `any where (a or b) and not (c or d)`, `(where any (and (or a b) (not (or c d))))`},
		{"redundant parentheses", `any where ((a == 1))`, `(where any (== a 1))`},
		{"null", `any where ?user.id != null`, `(where any (!= ?user.id null))`},
		{"null equality", `any where a == null`, `(where any (== a null))`},
	})
}

func TestParseComparisons(t *testing.T) {
	runParseCases(t, []parseCase{
		{"==", `any where a == "x"`, `(where any (== a "x"))`},
		{"!=", `any where a != "x"`, `(where any (!= a "x"))`},
		{"<", `any where a < 1`, `(where any (< a 1))`},
		{"<=", `any where a <= 1`, `(where any (<= a 1))`},
		{">", `any where a > 1`, `(where any (> a 1))`},
		{">=", `any where a >= 1`, `(where any (>= a 1))`},
		{"no spaces", `any where a>=1`, `(where any (>= a 1))`},
		{"constant on the left", `any where 1 < a`, `(where any (< 1 a))`},
		{"boolean literal", `any where a == true`, `(where any (== a true))`},
	})
}

func TestParseLookupAndPatterns(t *testing.T) {
	runParseCases(t, []parseCase{
		{": single", `any where a : "x*"`, `(where any (: a "x*"))`},
		{": list", `any where a : ("doc*", "f*o", "ba?", "qux")`, `(where any (: a "doc*" "f*o" "ba?" "qux"))`},
		{": list of one", `any where a : ("x")`, `(where any (: a "x"))`},
		{"like", `any where a like "VALUE*"`, `(where any (like a "VALUE*"))`},
		{"like~", `any where a like~ "value*"`, `(where any (like~ a "value*"))`},
		{"like list", `any where a like ("Value-*", "VAL?")`, `(where any (like a "Value-*" "VAL?"))`},
		{"like~ list", `any where a like~ ("a", "b")`, `(where any (like~ a "a" "b"))`},
		{"regex", `any where a regex "VALUE[^Z].?"`, `(where any (regex a "VALUE[^Z].?"))`},
		{"regex~", `any where a regex~ "value[^z].?"`, `(where any (regex~ a "value[^z].?"))`},
		{"regex list", `any where a regex ("[vV]alue-[0-9]", "VAL3")`, `(where any (regex a "[vV]alue-[0-9]" "VAL3"))`},
		{"regex~ list", `any where a regex~ ("x", "y")`, `(where any (regex~ a "x" "y"))`},
		{"in single", `any where a in ("x")`, `(where any (in a "x"))`},
		{"in list", `any where a in ("Value-1", "VALUE2", "VAL3")`, `(where any (in a "Value-1" "VALUE2" "VAL3"))`},
		{"in numbers", `any where a in (1, 2, -3)`, `(where any (in a 1 2 -3))`},
		{"in~", `any where a in~ ("value-1", "value2")`, `(where any (in~ a "value-1" "value2"))`},
		{"not in", `any where a not in ("x", "y")`, `(where any (not-in a "x" "y"))`},
		{"not in~", `any where a not in~ ("x")`, `(where any (not-in~ a "x"))`},
		{"prefix not in", `any where not a in ("x", "y")`, `(where any (not (in a "x" "y")))`},
		{"in binds tighter than and", `any where a in ("x") and b : "y"`, `(where any (and (in a "x") (: b "y")))`},
		{"function on the left", `any where length(a) in (1, 2)`, `(where any (in (call length a) 1 2))`},
		{"optional field", `any where ?a.b : "x"`, `(where any (: ?a.b "x"))`},
	})
}

func TestParseStrings(t *testing.T) {
	runParseCases(t, []parseCase{
		{"escapes", `any where a == "n\n t\t r\r q\" b\\ s\' bs\b ff\f"`,
			"(where any (== a \"n\\n t\\t r\\r q\\\" b\\\\ s' bs\\b ff\\f\"))"},
		{"unicode escape", `any where a == "\u{1F600}"`, `(where any (== a "😀"))`},
		{"unicode escape 2 digits", `any where a == "\u{41}\u{0041}\u{00000041}"`, `(where any (== a "AAA"))`},
		{"unicode escape RLM", `any where a : "*\u{202E}*"`, "(where any (: a \"*\\u202e*\"))"},
		{"raw", `any where a == """C:\Windows\"""`, `(where any (== a "C:\\Windows\\"))`},
		{"raw with quote", `any where a == """say "hi" now"""`, `(where any (== a "say \"hi\" now"))`},
		{"raw with trailing quote", `any where a == """x""""`, `(where any (== a "x\""))`},
		{"raw with two trailing quotes", `any where a == """x"""""`, `(where any (== a "x\"\""))`},
		{"raw regex", `any where a regex~ """.*\.exe[^\"].*"""`, `(where any (regex~ a ".*\\.exe[^\\\"].*"))`},
		{"empty", `any where a == ""`, `(where any (== a ""))`},
		{"empty raw", `any where a == """"""`, `(where any (== a ""))`},
		{"non-ASCII", `any where a == "é日本"`, `(where any (== a "é日本"))`},
		{"comment markers in a string", `any where a == "// not /* a comment */"`, `(where any (== a "// not /* a comment */"))`},
	})
}

func TestParseFields(t *testing.T) {
	runParseCases(t, []parseCase{
		{"dotted", `any where process.parent.name == "x"`, `(where any (== process.parent.name "x"))`},
		{"backtick", "any where `my-field` == 1", "(where any (== `my-field` 1))"},
		{"backtick with space", "any where `my field` == 1", "(where any (== `my field` 1))"},
		{"backtick with digit", "any where `6myfield` == 1", "(where any (== `6myfield` 1))"},
		{"backtick with dot is one segment", "any where `a.b`.c == 1", "(where any (== `a.b`.c 1))"},
		{"partial backticks", "any where a.b.`0`.c == 1", "(where any (== a.b.`0`.c 1))"},
		{"escaped backtick", "any where `my``field` == 1", "(where any (== `my``field` 1))"},
		{"backtick keyword", "any where `sequence`.x == 1", "(where any (== `sequence`.x 1))"},
		{"optional", `any where ?a.b == 1`, `(where any (== ?a.b 1))`},
		{"optional backtick", "any where ?`a-b`.c == 1", "(where any (== ?`a-b`.c 1))"},
		{"subscript", `any where a.b[0] == 1`, `(where any (== a.b[0] 1))`},
		{"subscripts", `any where a.b[0][12] == 1`, `(where any (== a.b[0][12] 1))`},
		{"keyword after a dot", `any where a.in == 1`, "(where any (== a.`in` 1))"},
	})
}

func TestParseComments(t *testing.T) {
	runParseCases(t, []parseCase{
		{"line", "any where a == 1 // trailing", `(where any (== a 1))`},
		{"line in the middle", "any where a == 1 // c\n and b == 2", `(where any (and (== a 1) (== b 2)))`},
		{"block", "any where /* c */ a == /* d */ 1", `(where any (== a 1))`},
		{"block over lines", "any where a == 1 /* one\n two */ and b == 2", `(where any (and (== a 1) (== b 2)))`},
		{"nested block", "any where /* a /* b */ c */ true", `(where any true)`},
		{"in a list", "any where a in (\"x\", // first\n \"y\" /* second */, \"z\")", `(where any (in a "x" "y" "z"))`},
		{"in a pattern list", "any where a : (\"x*\", /* c */ \"y*\")", `(where any (: a "x*" "y*"))`},
		{"before everything", "// rule\nany where true", `(where any true)`},
		{"comment at end without newline", "any where true //", `(where any true)`},
	})
}

func TestParseArithmetic(t *testing.T) {
	runParseCases(t, []parseCase{
		{"precedence", `any where a + b * c - d / e % f == 1`,
			`(where any (== (- (+ a (* b c)) (% (/ d e) f)) 1))`},
		{"left associative", `any where a - b - c == 1`, `(where any (== (- (- a b) c) 1))`},
		{"parentheses", `any where (a + b) * c == 1`, `(where any (== (* (+ a b) c) 1))`},
		{"both sides", `any where 1 * -2 <= -3 * 4`, `(where any (<= (* 1 -2) (* -3 4)))`},
		{"unary minus on a field", `any where -a == -1`, `(where any (== (neg a) -1))`},
		{"unary minus twice", `any where a == - -1`, `(where any (== a 1))`},
		{"unary minus on a negated field", `any where --a == 1`, `(where any (== (neg (neg a)) 1))`},
		{"minus a negative", `any where a - -1 == 0`, `(where any (== (- a -1) 0))`},
		{"unary minus on parentheses", `any where -(a + 1) == 0`, `(where any (== (neg (+ a 1)) 0))`},
		{"unary plus", `any where +a == +1`, `(where any (== a 1))`},
		{"negative float", `any where a == -1.5`, `(where any (== a -1.5))`},
		{"min int64", `any where a == -9223372036854775808`, `(where any (== a -9223372036854775808))`},
		{"float", `any where a == 2.5`, `(where any (== a 2.5))`},
		{"float with integer value", `any where a == 4.0`, `(where any (== a 4.0))`},
		{"exponent", `any where a == 1e3`, `(where any (== a 1000.0))`},
		{"negative exponent", `any where a == 2.5E-3`, `(where any (== a 0.0025))`},
		{"function arithmetic", `any where length(a) - (length(b) + 1) > 0`,
			`(where any (> (- (call length a) (+ (call length b) 1)) 0))`},
	})
}

func TestParseFunctions(t *testing.T) {
	runParseCases(t, []parseCase{
		{"call", `any where startsWith(a, "b")`, `(where any (call startsWith a "b"))`},
		{"case-insensitive", `any where startsWith~(a, "b")`, `(where any (call startsWith~ a "b"))`},
		{"name as written", `any where cidrmatch(ip, "10.0.0.0/8", "FE80::/10")`,
			`(where any (call cidrmatch ip "10.0.0.0/8" "FE80::/10"))`},
		{"no arguments", `any where f()`, `(where any (call f))`},
		{"nested", `any where endswith~(substring(a, 0, length(a) - 1), concat(b, "."))`,
			`(where any (call endswith~ (call substring a 0 (- (call length a) 1)) (call concat b ".")))`},
		{"compared", `any where length(a) > 3`, `(where any (> (call length a) 3))`},
		{"not", `any where not stringContains~(a, "x")`, `(where any (not (call stringContains~ a "x")))`},
		{"condition argument", `any where string(a == 1) == "true"`, `(where any (== (call string (== a 1)) "true"))`},
	})
}

func TestParseSequences(t *testing.T) {
	runParseCases(t, []parseCase{
		{"two stages", `sequence [file where file.extension == "exe"] [process where true]`,
			`(sequence (stage (where "file" (== file.extension "exe"))) (stage (where "process" true)))`},
		{"header by", `sequence by user.name [file where true] [process where true]`,
			`(sequence (by user.name) (stage (where "file" true)) (stage (where "process" true)))`},
		{"stage by", `sequence [file where true] by user.name, file.path [process where true] by user.name, process.executable`,
			`(sequence (stage (where "file" true) (by user.name file.path)) (stage (where "process" true) (by user.name process.executable)))`},
		{"header and stage by", `sequence by user.name [file where true] by file.path [process where true] by process.executable`,
			`(sequence (by user.name) (stage (where "file" true) (by file.path)) (stage (where "process" true) (by process.executable)))`},
		{"maxspan after by", `sequence by host.id, user.name with maxspan=15m [file where true] [process where true]`,
			`(sequence (by host.id user.name) (maxspan 15m0s) (stage (where "file" true)) (stage (where "process" true)))`},
		{"maxspan before by", `sequence with maxspan=15m by host.id, user.name [file where true] [process where true]`,
			`(sequence (by host.id user.name) (maxspan 15m0s) (stage (where "file" true)) (stage (where "process" true)))`},
		{"maxspan without by", `sequence with maxspan = 30s [a where true] [b where true]`,
			`(sequence (maxspan 30s) (stage (where "a" true)) (stage (where "b" true)))`},
		{"optional key", `sequence by process.pid, ?process.entity_id [process where true] [network where true]`,
			`(sequence (by process.pid ?process.entity_id) (stage (where "process" true)) (stage (where "network" true)))`},
		{"until", "sequence by process.pid\n [process where event.type == \"start\"]\n [process where true]\nuntil [process where event.type == \"stop\"]",
			`(sequence (by process.pid) (stage (where "process" (== event.type "start"))) (stage (where "process" true)) (until (stage (where "process" (== event.type "stop")))))`},
		{"until by", `sequence [a where true] by x [b where true] by y until [c where true] by z`,
			`(sequence (stage (where "a" true) (by x)) (stage (where "b" true) (by y)) (until (stage (where "c" true) (by z))))`},
		{"runs", `sequence [process where true] [library where true] with runs=3 [registry where true]`,
			`(sequence (stage (where "process" true)) (stage (where "library" true) (runs 3)) (stage (where "registry" true)))`},
		{"by and runs", `sequence [process where true] by process.executable [library where true] by dll.path with runs=3`,
			`(sequence (stage (where "process" true) (by process.executable)) (stage (where "library" true) (by dll.path) (runs 3)))`},
		{"one stage with runs", `sequence [a where true] with runs=2`, `(sequence (stage (where "a" true) (runs 2)))`},
		{"missing in the middle", `sequence with maxspan=1h [a where true] ![b where true] [c where true]`,
			`(sequence (maxspan 1h0m0s) (stage (where "a" true)) (missing (where "b" true)) (stage (where "c" true)))`},
		{"missing at the end", `sequence by host.name, user.name with maxspan=5s [authentication where event.code : "4624"] ![authentication where event.code : "4647"]`,
			`(sequence (by host.name user.name) (maxspan 5s) (stage (where "authentication" (: event.code "4624"))) (missing (where "authentication" (: event.code "4647"))))`},
		{"missing first", `sequence with maxspan=1m ![a where true] [b where true]`,
			`(sequence (maxspan 1m0s) (missing (where "a" true)) (stage (where "b" true)))`},
		{"stage by before next stage without space", `sequence [a where true] by f[b where true] by g`,
			`(sequence (stage (where "a" true) (by f)) (stage (where "b" true) (by g)))`},
		{"stages on lines with comments", "sequence by host.id with maxspan=1m // header\n  [a where true] // first\n  [b where true] /* second */",
			`(sequence (by host.id) (maxspan 1m0s) (stage (where "a" true)) (stage (where "b" true)))`},
	})
}

func TestParseMaxspanUnits(t *testing.T) {
	for _, c := range []struct {
		span string
		want time.Duration
	}{
		{"250ms", 250 * time.Millisecond},
		{"1s", time.Second},
		{"60s", time.Minute},
		{"5m", 5 * time.Minute},
		{"12h", 12 * time.Hour},
		{"2d", 48 * time.Hour},
		{"5 s", 5 * time.Second},
	} {
		q := "sequence with maxspan=" + c.span + " [a where true] [b where true]"
		st, err := ParseString(q)
		if err != nil {
			t.Errorf("%s: %v", c.span, err)
			continue
		}
		if got := st.Query.(*SequenceQuery).MaxSpan; got != c.want {
			t.Errorf("%s: maxspan %v, want %v", c.span, got, c.want)
		}
	}
}

func TestParseSample(t *testing.T) {
	runParseCases(t, []parseCase{
		{"sample by", `sample by host [file where file.extension == "exe"] [process where true]`,
			`(sample (by host) (stage (where "file" (== file.extension "exe"))) (stage (where "process" true)))`},
		{"sample with stage keys", `sample by host.id [a where true] by process.pid [b where true] by process.parent.pid`,
			`(sample (by host.id) (stage (where "a" true) (by process.pid)) (stage (where "b" true) (by process.parent.pid)))`},
		{"sample without by", `sample [a where true] [b where true] [c where true]`,
			`(sample (stage (where "a" true)) (stage (where "b" true)) (stage (where "c" true)))`},
	})
}

func TestParsePipes(t *testing.T) {
	runParseCases(t, []parseCase{
		{"head", `process where true | head 5`, `(where "process" true) (pipe head 5)`},
		{"two pipes", `process where true | tail 10 | unique a, b`, `(where "process" true) (pipe tail 10) (pipe unique a b)`},
	})
}

// TestParsePositions checks the byte offsets the parser records.
func TestParsePositions(t *testing.T) {
	//        0         1         2         3         4
	//        0123456789012345678901234567890123456789012345
	q := `process where ?a.b == "x" and startsWith~(c, "d")`
	st, err := ParseString(q)
	if err != nil {
		t.Fatal(err)
	}
	ev := st.Query.(*EventQuery)
	and := ev.Where.(*Binary)
	eq := and.Left.(*Binary)
	call := and.Right.(*Call)
	for _, c := range []struct {
		what      string
		got, want Pos
	}{
		{"event", ev.Pos, 0},
		{"and", and.Pos, 26},
		{"==", eq.Pos, 19},
		{"?a.b", eq.Left.(*Field).Pos, 14},
		{`"x"`, eq.Right.(*Literal).Pos, 22},
		{"call", call.Pos, 30},
		{"call end", call.EndPos, 48},
		{"c", call.Args[0].(*Field).Pos, 42},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, want %d", c.what, c.got, c.want)
		}
	}

	q = "sequence by host.id\n  [a where -1 < x] by p\n  ![b where true]"
	st, err = ParseString(q)
	if err != nil {
		t.Fatal(err)
	}
	seq := st.Query.(*SequenceQuery)
	s0, s1 := seq.Stages[0], seq.Stages[1]
	lt := s0.Query.Where.(*Binary)
	for _, c := range []struct {
		what      string
		got, want Pos
	}{
		{"sequence", seq.Pos, 0},
		{"header key", seq.By[0].Pos, 12},
		{"stage 0", s0.Pos, 22},
		{"stage 0 query", s0.Query.Pos, 23},
		{"-1", lt.Left.(*Literal).Pos, 31},
		{"stage 0 key", s0.By[0].Pos, 42},
		{"missing stage", s1.Pos, 46},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, want %d", c.what, c.got, c.want)
		}
	}
}

// TestParseFieldPaths checks Field.Path segments directly: backticks may hold
// dots, which the dotted Name cannot show.
func TestParseFieldPaths(t *testing.T) {
	for _, c := range []struct {
		src  string
		path []string
		name string
	}{
		{"a.b.c", []string{"a", "b", "c"}, "a.b.c"},
		{"a.b.`0`.c", []string{"a", "b", "0", "c"}, "a.b.0.c"},
		{"`a.b`.c", []string{"a.b", "c"}, "a.b.c"},
		{"`x``y`", []string{"x`y"}, "x`y"},
	} {
		st, err := ParseString("any where " + c.src + " == 1")
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		f := st.Query.(*EventQuery).Where.(*Binary).Left.(*Field)
		if fmt.Sprint(f.Path) != fmt.Sprint(c.path) || f.Name() != c.name {
			t.Errorf("%s: path %q name %q, want %q %q", c.src, f.Path, f.Name(), c.path, c.name)
		}
	}
}

type errCase struct {
	name  string
	src   *Source
	want  string // the full Detail() text
	check bool   // the error comes from Check, not Parse
}

func q(text string) *Source { return &Source{Text: text} }

func detail(t *testing.T, src *Source, err error) string {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("error %v (%T) is not a non-empty Errors", err, err)
	}
	for _, e := range errs {
		if e.Src != src {
			t.Errorf("error %v does not carry the source", e)
		}
		if e.Pos < 0 || int(e.Pos) > len(src.Text) {
			t.Errorf("error %v at %d, outside [0, %d]", e, e.Pos, len(src.Text))
		}
	}
	return errs[0].Detail()
}

func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, err := Parse(c.src)
			if c.check {
				if err != nil {
					t.Fatalf("Parse(%q): %v", c.src.Text, err)
				}
				_, err = Check(st, c.src)
			}
			if err == nil {
				t.Fatalf("%q: no error, want\n%s", c.src.Text, c.want)
			}
			if got := detail(t, c.src, err); got != c.want {
				t.Errorf("%q:\n got:\n%s\nwant:\n%s", c.src.Text, got, c.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	deep := "any where " + strings.Repeat("(", MaxDepth+1) + "true" + strings.Repeat(")", MaxDepth+1)
	deepNot := "any where " + strings.Repeat("not ", MaxDepth+1) + "true"
	deepIn := "any where a" + strings.Repeat(" in (a", MaxDepth+1) + strings.Repeat(")", MaxDepth+1)
	runErrCases(t, []errCase{
		{"unterminated string", q(`process where a == "abc`), `query:1:20: unterminated string
    process where a == "abc
                       ^`, false},
		{"string across lines", q("process where a == \"abc\n\" and true"), `query:1:20: unterminated string
    process where a == "abc
                       ^`, false},
		{"single quotes", q(`process where a == 'abc'`), `query:1:20: single quotes are not supported for strings, use double quotes
    process where a == 'abc'
                       ^`, false},
		{"= instead of ==", q(`process where a = 1`), `query:1:17: use == for equality, not =
    process where a = 1
                    ^`, false},
		{"missing where", q(`process a == 1`), `query:1:9: expected "where", found "a"
    process a == 1
            ^`, false},
		{"missing condition", q(`process where`), `query:1:14: expected a value, found end of query
    process where
                 ^`, false},
		{"bad maxspan unit", q(`sequence with maxspan=5x [a where true] [b where true]`), `query:1:24: unknown time unit "x" (use ms, s, m, h or d)
    sequence with maxspan=5x [a where true] [b where true]
                           ^`, false},
		{"maxspan without unit", q(`sequence with maxspan=5 [a where true] [b where true]`), `query:1:25: maxspan needs a time unit (ms, s, m, h, d)
    sequence with maxspan=5 [a where true] [b where true]
                            ^`, false},
		{"decimal maxspan", q(`sequence with maxspan=1.5s [a where true] [b where true]`), `query:1:23: expected a time span such as 5s, found "1.5"
    sequence with maxspan=1.5s [a where true] [b where true]
                          ^`, false},
		{"zero maxspan", q(`sequence with maxspan=0s [a where true] [b where true]`), `query:1:15: maxspan must be positive
    sequence with maxspan=0s [a where true] [b where true]
                  ^`, false},
		{"trailing garbage", q(`process where true garbage`), `query:1:20: unexpected "garbage" after the end of the query
    process where true garbage
                       ^`, false},
		{"trailing bracket", q(`process where a == 1)`), `query:1:21: unexpected ")" after the end of the query
    process where a == 1)
                        ^`, false},
		{"too deep parentheses", q(deep), fmt.Sprintf("query:1:%d: expression nested too deeply (more than %d levels)\n    %s\n    %s^",
			11+MaxDepth, MaxDepth, deep, strings.Repeat(" ", 10+MaxDepth)), false},
		{"too deep not", q(deepNot), fmt.Sprintf("query:1:%d: expression nested too deeply (more than %d levels)\n    %s\n    %s^",
			11+4*MaxDepth, MaxDepth, deepNot, strings.Repeat(" ", 10+4*MaxDepth)), false},
		{"too deep in lists", q(deepIn), fmt.Sprintf("query:1:%d: expression nested too deeply (more than %d levels)\n    %s\n    %s^",
			13+6*MaxDepth, MaxDepth, deepIn, strings.Repeat(" ", 12+6*MaxDepth)), false},
		{"multi-line position", q("sequence by host.id\n  [process where true]\n  [file where file.name = \"x\"]"), `query:3:25: use == for equality, not =
      [file where file.name = "x"]
                            ^`, false},
		{"tabs and unicode before the error", q("any where\ta == \"é\" and\tb = 1"), `query:1:26: use == for equality, not =
    any where a == "é" and b = 1
                             ^`, false},
		{"TOML offset on the first line", &Source{Name: "rule.toml", Text: `process where a = 1`, Line: 12, Col: 9}, `rule.toml:12:25: use == for equality, not =
    process where a = 1
                    ^`, false},
		{"TOML offset on a later line", &Source{Name: "rules/x.toml", Text: "sequence\n  [a where true]\n  [b where c == 'x']", Line: 40, Col: 1}, `rules/x.toml:42:17: single quotes are not supported for strings, use double quotes
      [b where c == 'x']
                    ^`, false},
		{"unterminated raw string", q(`any where a == """abc`), `query:1:16: unterminated raw string (raw strings end on the line they start)
    any where a == """abc
                   ^`, false},
		{"raw string across lines", q("any where a == \"\"\"abc\ndef\"\"\""), `query:1:16: unterminated raw string (raw strings end on the line they start)
    any where a == """abc
                   ^`, false},
		{"invalid escape", q(`any where a == "a\qb"`), `query:1:18: invalid escape sequence \q
    any where a == "a\qb"
                     ^`, false},
		{"escaped slash", q(`any where a == "a\/b"`), `query:1:18: invalid escape sequence \/
    any where a == "a\/b"
                     ^`, false},
		{"unicode without braces", q(`any where a == "\u00e9"`), `query:1:17: invalid unicode escape: use \u{XXXX} with 2 to 8 hex digits
    any where a == "\u00e9"
                    ^`, false},
		{"unicode surrogate", q(`any where a == "\u{D800}"`), `query:1:17: invalid unicode escape \u{D800}
    any where a == "\u{D800}"
                    ^`, false},
		{"unicode one digit", q(`any where a == "\u{D}"`), `query:1:17: invalid unicode escape \u{D}
    any where a == "\u{D}"
                    ^`, false},
		{"unicode too large", q(`any where a == "\u{110000}"`), `query:1:17: invalid unicode escape \u{110000}
    any where a == "\u{110000}"
                    ^`, false},
		{"unterminated comment", q("any where true /* never closed"), `query:1:16: unterminated comment
    any where true /* never closed
                   ^`, false},
		{"unterminated nested comment", q("any where true /* a /* b */"), `query:1:16: unterminated comment
    any where true /* a /* b */
                   ^`, false},
		{"unterminated backtick", q("any where `abc == 1"), "query:1:11: unterminated quoted identifier\n    any where `abc == 1\n              ^", false},
		{"unexpected character", q(`any where a ~ b`), `query:1:13: unexpected character '~'
    any where a ~ b
                ^`, false},
		{"join", q(`join [a where true] [b where true]`), `query:1:1: join is not supported by Elasticsearch EQL
    join [a where true] [b where true]
    ^`, false},
		{"not without in", q(`any where a not like "x"`), "query:1:17: expected `in` after `not`, found \"like\"\n    any where a not like \"x\"\n                    ^", false},
		{"empty in list", q(`any where a in ()`), `query:1:17: expected a value, found ")"
    any where a in ()
                    ^`, false},
		{"in without parentheses", q(`any where a in "x"`), "query:1:16: expected `(` to start the list, found string \"x\"\n    any where a in \"x\"\n                   ^", false},
		{"pattern not a string", q(`any where a : 1`), `query:1:15: expected a string pattern, found "1"
    any where a : 1
                  ^`, false},
		{"tilde on a field", q(`any where a~ == 1`), "query:1:11: `~` is only allowed after a function name or in~, like~, regex~\n    any where a~ == 1\n              ^", false},
		{"backtick category", q("`process` where true"), "query:1:1: an event category cannot be in backticks; use double quotes\n    `process` where true\n    ^", false},
		{"keyword as field", q(`any where by == 1`), `query:1:11: unexpected keyword "by", expected a value
    any where by == 1
              ^`, false},
		{"one-stage sequence", q(`sequence [a where true]`), `query:1:1: a sequence needs at least two stages
    sequence [a where true]
    ^`, false},
		{"only missing stages", q(`sequence with maxspan=1s ![a where true] ![b where true]`), `query:1:1: a sequence needs at least one stage that is not a missing event
    sequence with maxspan=1s ![a where true] ![b where true]
    ^`, false},
		{"one-stage sample", q(`sample by host.id [a where true]`), `query:1:1: a sample needs at least two stages
    sample by host.id [a where true]
    ^`, false},
		{"sample runs", q(`sample by x [a where true] with runs=2 [b where true]`), `query:1:13: sample stages cannot be repeated with runs
    sample by x [a where true] with runs=2 [b where true]
                ^`, false},
		{"space after bang", q(`sequence with maxspan=1s [a where true] ! [b where true]`), "query:1:43: expected `[` right after `!`\n    sequence with maxspan=1s [a where true] ! [b where true]\n                                              ^", false},
		{"runs out of range", q(`sequence [a where true] with runs=101 [b where true]`), `query:1:35: runs must be between 1 and 100
    sequence [a where true] with runs=101 [b where true]
                                      ^`, false},
		{"join key expression", q(`sequence by length(a) [a where true] [b where true]`), `query:1:13: join keys must be fields
    sequence by length(a) [a where true] [b where true]
                ^`, false},
		{"until missing", q(`sequence with maxspan=1s [a where true] [b where true] until ![c where true]`), "query:1:62: missing-event stages are only allowed in sequences\n    sequence with maxspan=1s [a where true] [b where true] until ![c where true]\n                                                                 ^", false},
		{"empty query", q(``), "query:1:1: expected an event category, `any`, `sequence` or `sample`, found end of query\n    \n    ^", false},
		{"subscript not a number", q(`any where a[b] == 1`), `query:1:12: unexpected "[" after the end of the query
    any where a[b] == 1
               ^`, false},
	})
}

// TestParseErrorsAreErrors checks the error contract: Errors, first error
// positioned, Error() joining the Detail texts.
func TestParseErrorsAreErrors(t *testing.T) {
	src := &Source{Name: "r.toml", Text: "any where a = 1"}
	_, err := Parse(src)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("%T is not Errors", err)
	}
	if len(errs) != 1 || errs[0].Pos != 12 {
		t.Fatalf("errors %v", errs)
	}
	if got, want := errs[0].Error(), "r.toml:1:13: use == for equality, not ="; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if err.Error() != errs[0].Detail() {
		t.Errorf("Errors.Error() = %q, want the Detail text", err.Error())
	}
}

func TestPrintNil(t *testing.T) {
	for _, st := range []*Statement{nil, {}, {Query: (*SequenceQuery)(nil)}, {Query: (*SampleQuery)(nil)}, {Query: (*EventQuery)(nil)}} {
		if st.String() != "<nil>" || Format(st) != "" {
			t.Errorf("%#v: String %q, Format %q", st, st.String(), Format(st))
		}
	}
}
