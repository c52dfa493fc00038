package eql

import (
	"errors"
	"testing"
	"time"
)

// fuzzSeeds are hand-written inputs around the lexer and parser's edges; the
// corpus queries are added when the corpus is present. Crashers found by
// fuzzing live in testdata/fuzz/FuzzParse and run with every go test.
var fuzzSeeds = []string{
	``,
	` `,
	`process where true`,
	`any where a == 1 or b != "x" and not c < 2.5`,
	`any where a : ("x*", "y?") and b like~ "z" and c regex~ """[a-z]+\.exe"""`,
	`any where a in (1, -2, 3.5e2) and b not in~ ("x") and not c in ("y")`,
	`any where ?a.b != null and ` + "`a b`.`0`.c" + ` == "\u{1F600}\n\t\"\\"`,
	`any where startsWith~(a, "b") and cidrmatch(ip, "10.0.0.0/8", "FE80::/10") and length(a) - 1 > 0`,
	`any where -a * (b + c) % 2 == - -1`,
	"sequence by host.id with maxspan=5m\n  [process where true] by process.pid\n  ![file where true] by process.pid\nuntil [process where event.type == \"end\"] by process.pid",
	`sequence with maxspan=1s by a [x where true] with runs=3 [y where true]`,
	`sample by host.id [a where true] [b where true]`,
	`process where true | head 5 | tail 1`,
	"any where /* a /* nested */ comment */ true // end",
	"any where a in (\"x\", // c\n \"y\")",
	`any where a == """x""""`,
	`any where a == "unterminated`,
	`any where a == 'single'`,
	`any where a = 1`,
	`any where a[0] == 1 and b == c`,
	`join [a where true] [b where true]`,
	`sequence [a where true]`,
	"any where \"\\u{D800}\" == a",
	"`cat` where true",
	"any where a ~ b",
	"\x00\xff\xfe",
	"any where (((((((((((((((((true)))))))))))))))))",
	"any where not not not not true",
	"any where a == -9223372036854775808 and b == 9223372036854775808",
	"sequence with maxspan=9999999999999999999d [a where true] [b where true]",
}

// FuzzParse checks that Parse never panics or hangs, that its errors are
// positioned Errors, that Check never panics on what Parse accepts, and that
// Format is the inverse of Parse.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	if root := findCorpus(f); root != "" {
		for _, r := range loadCorpus(f, root) {
			f.Add(r.Query)
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		src := &Source{Name: "fuzz", Text: text, Line: 3, Col: 7}
		var (
			st  *Statement
			err error
		)
		done := make(chan struct{})
		go func() {
			defer close(done)
			st, err = Parse(src)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Parse(%q) did not return within 10s", text)
		}
		if err != nil {
			if st != nil {
				t.Errorf("Parse(%q) returned a statement and an error", text)
			}
			checkErrors(t, src, err)
			return
		}
		warns, cerr := Check(st, src)
		checkPositions(t, src, warns)
		if cerr != nil {
			checkErrors(t, src, cerr)
		}
		out := Format(st)
		st2, err := ParseString(out)
		if err != nil {
			t.Fatalf("Parse(%q) = %s, but its Format %q does not parse: %v", text, st, out, err)
		}
		if st2.String() != st.String() {
			t.Fatalf("Parse(%q) = %s\nFormat: %q\nreparses as %s", text, st, out, st2)
		}
		if out2 := Format(st2); out2 != out {
			t.Fatalf("Format is not stable: %q then %q", out, out2)
		}
	})
}

func checkErrors(t *testing.T, src *Source, err error) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("error %v (%T) is not a non-empty Errors", err, err)
	}
	checkPositions(t, src, errs)
	_ = err.Error()
}

func checkPositions(t *testing.T, src *Source, errs Errors) {
	t.Helper()
	for _, e := range errs {
		if e == nil {
			t.Fatal("nil *Error")
		}
		if e.Src != src {
			t.Errorf("%v does not carry its source", e)
		}
		if e.Pos < 0 || int(e.Pos) > len(src.Text) {
			t.Errorf("%v: position %d outside [0, %d]", e, e.Pos, len(src.Text))
		}
		if e.Msg == "" {
			t.Errorf("error at %d without a message", e.Pos)
		}
		_ = e.Detail()
	}
}
