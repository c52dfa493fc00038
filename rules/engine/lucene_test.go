package engine

import (
	"regexp"
	"strings"
	"testing"
)

// TestLuceneRegexGrammar: constructs of Lucene's RegExp grammar with the
// flags Elasticsearch's regexp query uses by default (ALL), each with the
// strings it must and must not match. Expected results are from the
// Elasticsearch "Regular expression syntax" reference and Lucene's RegExp
// javadoc/grammar, not from this translation.
func TestLuceneRegexGrammar(t *testing.T) {
	type tc struct {
		pattern string
		fold    bool
		yes, no []string
	}
	cases := []tc{
		// ES reference examples
		{pattern: `ab.*`, yes: []string{"abcd", "ab", "ab\ncd"}, no: []string{"a"}},
		{pattern: `abc+`, yes: []string{"abc", "abccc"}, no: []string{"ab"}},
		{pattern: `abc*`, yes: []string{"ab", "abcc"}, no: []string{"abd"}},
		{pattern: `abc?`, yes: []string{"ab", "abc"}, no: []string{"abcc"}},
		{pattern: `a{2}`, yes: []string{"aa"}, no: []string{"a", "aaa"}},
		{pattern: `a{2,4}`, yes: []string{"aa", "aaaa"}, no: []string{"a", "aaaaa"}},
		{pattern: `a{2,}`, yes: []string{"aa", "aaaaaaa"}, no: []string{"a"}},
		{pattern: `abc|xyz`, yes: []string{"abc", "xyz"}, no: []string{"abcxyz", "ab"}},
		{pattern: `abc(def)?`, yes: []string{"abc", "abcdef"}, no: []string{"abcde"}},
		{pattern: `[abc]`, yes: []string{"a", "c"}, no: []string{"d", "ab"}},
		{pattern: `[a-c]`, yes: []string{"b"}, no: []string{"d"}},
		{pattern: `[-abc]`, yes: []string{"-", "a"}, no: []string{"d"}},
		{pattern: `[abc\-]`, yes: []string{"-"}, no: []string{"d"}},
		{pattern: `[^abc\-]`, yes: []string{"d", "\n"}, no: []string{"a", "-"}},
		{pattern: `foo<1-100>`, yes: []string{"foo1", "foo100", "foo007", "foo099"}, no: []string{"foo101", "foo", "foo0"}},
		{pattern: `foo<01-100>`, yes: []string{"foo01", "foo1", "foo100"}, no: []string{"foo101"}}, // lengths differ: any leading zeros
		{pattern: `<10-99>`, yes: []string{"10", "57", "99"}, no: []string{"9", "09", "100", "010"}},
		{pattern: `<05-10>`, yes: []string{"05", "07", "10"}, no: []string{"5", "04", "11", "005"}},
		{pattern: `<99-10>`, yes: []string{"10", "99"}, no: []string{"9"}}, // swapped
		{pattern: `<0-5>`, yes: []string{"0", "5"}, no: []string{"6", ""}},
		{pattern: `<123-4567>`, yes: []string{"123", "999", "1000", "4567", "0200"}, no: []string{"122", "4568", "5000"}},
		{pattern: `"a.b*"`, yes: []string{"a.b*"}, no: []string{"axb", "a.bb"}},
		{pattern: `"ab"+`, yes: []string{"ab", "abab"}, no: []string{"abb"}},
		{pattern: `a()b`, yes: []string{"ab"}},
		{pattern: `@`, yes: []string{"", "anything\nat all"}},
		{pattern: `a#`, no: []string{"a", ""}},
		{pattern: ``, yes: []string{""}, no: []string{"a"}},
		// characters that cannot start an operator are literals
		{pattern: `*a`, yes: []string{"*a"}, no: []string{"a", "aa"}},
		{pattern: `+`, yes: []string{"+"}},
		{pattern: `|a`, yes: []string{"|a"}, no: []string{"a", ""}},
		{pattern: `a||b`, yes: []string{"a", "|b"}, no: []string{"b"}},
		{pattern: `{a`, yes: []string{"{a"}},
		{pattern: `a}`, yes: []string{"a}"}},
		{pattern: `a]`, yes: []string{"a]"}},
		{pattern: `)`, yes: []string{")"}},
		{pattern: `a>b`, yes: []string{"a>b"}},
		{pattern: `^a$`, yes: []string{"^a$"}, no: []string{"a"}}, // no anchors in Lucene
		// bracket expressions
		{pattern: `[]a]`, yes: []string{"]", "a"}, no: []string{"b"}},
		{pattern: `[^]]`, yes: []string{"a"}, no: []string{"]"}},
		{pattern: `[!-]]`, yes: []string{"!", "A", "]"}, no: []string{"a"}}, // the range ends at ]
		{pattern: `[[:a:]]`, yes: []string{"[]", ":]", "a]"}, no: []string{"b]"}},
		{pattern: `[a^]`, yes: []string{"^"}},
		{pattern: `[a-\d]`, yes: []string{"c", "d"}, no: []string{"5"}}, // \d ends a range as the letter d
		// escapes
		{pattern: `\*\+\.`, yes: []string{"*+."}},
		{pattern: `\@\#\<`, yes: []string{"@#<"}},
		{pattern: `a\\b`, yes: []string{`a\b`}},
		// case-insensitive: ASCII single characters and strings, not ranges
		{pattern: `abc`, fold: true, yes: []string{"ABC", "aBc"}, no: []string{"abd"}},
		{pattern: `"Ab"`, fold: true, yes: []string{"aB"}},
		{pattern: `[ab]`, fold: true, yes: []string{"A", "b"}, no: []string{"C"}},
		{pattern: `[^a]`, fold: true, yes: []string{"b"}, no: []string{"a", "A"}},
		{pattern: `[a-c]`, fold: true, yes: []string{"b"}, no: []string{"B"}},
		{pattern: `é`, fold: true, yes: []string{"é"}, no: []string{"É"}},
		{pattern: `s`, fold: true, yes: []string{"S"}, no: []string{"ſ"}},      // no Unicode folding (RE2 (?i) would match)
		{pattern: `k`, fold: true, yes: []string{"K"}, no: []string{"\u212a"}}, // Kelvin sign
		{pattern: `\w+`, fold: true, yes: []string{"Az_9"}},
	}
	for _, c := range cases {
		re, err := luceneToRE2(c.pattern, c.fold)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		for _, s := range c.yes {
			if !re.MatchString(s) {
				t.Errorf("%q (fold %v) must match %q (RE2 %s)", c.pattern, c.fold, s, re)
			}
		}
		for _, s := range c.no {
			if re.MatchString(s) {
				t.Errorf("%q (fold %v) must not match %q (RE2 %s)", c.pattern, c.fold, s, re)
			}
		}
	}
}

// TestLuceneRegexRefused: what Lucene rejects is an error, and what RE2
// cannot express exactly is refused with a message naming it.
func TestLuceneRegexRefused(t *testing.T) {
	cases := map[string]string{
		`@&~(abc.+)`: "intersection", // ES reference example

		`ab&cd`:   "intersection",
		`~a`:      "complement",
		`<name>`:  "named automata",
		`<1-2-3>`: "interval syntax",
		`<a-9>`:   "interval syntax",
		`<1-9`:    "expected '>'",
		`a{,3}`:   "integer expected",
		`a{3`:     "expected '}'",
		`a{4,2}`:  "invalid repetition range",
		`a{1001}`: "above 1000",
		`(ab`:     "expected ')'",
		`[ab`:     "expected ']'",
		`[a-]`:    "invalid range", // a-] with ] < a
		`[!-]`:    "expected ']'",  // the range !-] takes the ]
		`[z-a]`:   "invalid range",
		`"ab`:     "unterminated",
		`a|`:      "unexpected end",
		`a\`:      "unexpected end",
		`(a))`:    "end expected",
		`\n`:      "invalid character class",
	}
	for p, want := range cases {
		_, err := luceneToRE2(p, false)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", p, err, want)
		}
	}
}

// FuzzLuceneRegex: any pattern either translates to an RE2 expression that
// compiles, or is refused with an error; never a panic.
func FuzzLuceneRegex(f *testing.F) {
	for _, s := range []string{`a|b`, `[]a]`, `<1-100>`, `"x"*`, `\d+\s`, `(|a)`, `a{2,3}`, `@`, `#`, `[^\S]`} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, p string, fold bool) {
		expr, err := luceneTranslate(p, fold)
		if err != nil {
			return
		}
		if _, err := regexp.Compile(expr); err != nil && !strings.Contains(err.Error(), "expression too large") {
			t.Fatalf("%q: translated to %q, which RE2 refuses: %v", p, expr, err)
		}
	})
}
