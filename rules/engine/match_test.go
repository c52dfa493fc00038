package engine

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestWildcardKinds: each specialised wildcard kind, with its inline first
// and last byte checks, agrees with the general glob matcher.
func TestWildcardKinds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const alpha = "ab*?/é"
	str := func(n int, wild bool) string {
		b := make([]rune, n)
		for i := range b {
			c := []rune(alpha)[r.IntN(len([]rune(alpha)))]
			for !wild && (c == '*' || c == '?') {
				c = []rune(alpha)[r.IntN(len([]rune(alpha)))]
			}
			b[i] = c
		}
		return string(b)
	}
	for range 200000 {
		p, s := str(r.IntN(6), true), str(r.IntN(8), false)
		w := compileWildcard(p, false)
		if got, want := w.match([]byte(s)), globMatch([]byte(p), []byte(s)); got != want {
			t.Fatalf("pattern %q (kind %d) on %q: got %v, want %v", p, w.kind, s, got, want)
		}
	}
}

// Lucene's predefined character classes (RegExp.expandPreDefined, Lucene
// 8.6+, i.e. Elasticsearch 7.9+): \d [0-9], \s [\t\n\r ], \w [0-9A-Z_a-z],
// their complements, inside and outside brackets; any other letter after a
// backslash is an error ("invalid character class").
func TestLuceneRegexPredefinedClasses(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{`\d+`, "2026", true},
		{`\d+`, "20a6", false},
		{`\D`, "x", true},
		{`\D`, "7", false},
		{`a\sb`, "a b", true},
		{`a\sb`, "a\tb", true},
		{`a\sb`, "a\nb", true},
		{`a\sb`, "a\rb", true},
		{`a\sb`, "a\fb", false}, // \f is not in Lucene's \s
		{`a\sb`, "a\vb", false}, // nor \v
		{`a\sb`, "asb", false},  // the letter s (read so before Lucene 8.6)
		{`\S+`, "abc", true},
		{`\S+`, "a c", false},
		{`\w+`, "ab_09Z", true},
		{`\w+`, "ab-09", false},
		{`\W`, "-", true},
		{`\W`, "_", false},
		{`[\d]+`, "42", true},
		{`[\s_]+`, " _\t", true},
		{`[^\s]+`, "a b", false},
		{`[^\s]+`, "ab", true},
		{`[a-c\W]+`, "a-b.c", true},
		{`[a-c\W]+`, "a-b.d", false},
		{`[\S]`, " ", false},
		{`[\D]`, "5", false},
		// the corpus rule "Masquerading Space After Filename"
		{`/[a-z0-9\s_\-\\./]+\s`, "/usr/bin/ls", false},
		{`/[a-z0-9\s_\-\\./]+\s`, "/usr/bin/ls ", true},
		// other escapes stay literals
		{`a\.b`, "a.b", true},
		{`a\.b`, "axb", false},
		{`\\`, `\`, true},
	}
	for _, c := range cases {
		re, err := luceneToRE2(c.pattern, false)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		if got := re.MatchString(c.s); got != c.want {
			t.Errorf("%q against %q: %v, want %v (RE2 %s)", c.pattern, c.s, got, c.want, re)
		}
	}
	for _, bad := range []string{`\q`, `a\A`, `[\e]`, `\n`} {
		if _, err := luceneToRE2(bad, false); err == nil || !strings.Contains(err.Error(), "invalid character class") {
			t.Errorf("%q: %v, want an invalid character class error", bad, err)
		}
	}
}
