package engine

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// lowerInto appends the lower-case form of s to dst. ASCII is folded byte by
// byte; other runes with unicode.ToLower.
func lowerInto(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}

// needsLower reports whether lowerInto would change s.
func needsLower(s []byte) bool {
	for _, c := range s {
		if ('A' <= c && c <= 'Z') || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

func lowerString(s string) string { return string(lowerInto(nil, []byte(s))) }

type wcKind uint8

const (
	wcExact wcKind = iota
	wcPrefix
	wcSuffix
	wcContains
	wcAny
	wcGeneral
)

// wildcard is a precompiled EQL wildcard pattern: `*` any run, `?` one
// character. Case folding, when asked for, is done on the pattern once; the
// caller folds the value.
type wildcard struct {
	kind wcKind
	lit  []byte // exact/prefix/suffix/contains literal
	pat  []byte // general pattern
	// pre and suf are the literal bytes a general pattern starts and ends
	// with (before its first and after its last wildcard): cheap checks
	// before the glob.
	pre, suf []byte
}

func compileWildcard(p string, fold bool) wildcard {
	if fold {
		p = lowerString(p)
	}
	b := []byte(p)
	if strings.IndexByte(p, '?') < 0 {
		stars := strings.Count(p, "*")
		switch {
		case stars == 0:
			return wildcard{kind: wcExact, lit: b}
		case strings.Trim(p, "*") == "":
			return wildcard{kind: wcAny}
		case stars == 1 && p[len(p)-1] == '*':
			return wildcard{kind: wcPrefix, lit: b[:len(b)-1]}
		case stars == 1 && p[0] == '*':
			return wildcard{kind: wcSuffix, lit: b[1:]}
		case stars == 2 && p[0] == '*' && p[len(p)-1] == '*' && len(p) > 2:
			return wildcard{kind: wcContains, lit: b[1 : len(b)-1]}
		}
	}
	return wildcard{kind: wcGeneral, pat: b,
		pre: b[:strings.IndexAny(p, "*?")], suf: b[strings.LastIndexAny(p, "*?")+1:]}
}

// match reports whether s matches. The literals of prefix, suffix and
// general patterns are non-empty: their first or last byte is compared
// inline before the rest.
func (w *wildcard) match(s []byte) bool {
	switch w.kind {
	case wcExact:
		return bstr(s) == bstr(w.lit)
	case wcPrefix:
		n := len(w.lit)
		return len(s) >= n && s[0] == w.lit[0] && bstr(s[:n]) == bstr(w.lit)
	case wcSuffix:
		n, m := len(w.lit), len(s)
		return m >= n && s[m-1] == w.lit[n-1] && bstr(s[m-n:]) == bstr(w.lit)
	case wcContains:
		return bytes.Contains(s, w.lit)
	case wcAny:
		return true
	}
	if len(s) < len(w.pre)+len(w.suf) || !bytes.HasPrefix(s, w.pre) || !bytes.HasSuffix(s, w.suf) {
		return false
	}
	return globMatch(w.pat, s)
}

// globMatch matches s against a pattern of literal bytes, `*` and `?` (one
// UTF-8 character), with linear backtracking on the last star.
func globMatch(p, s []byte) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				_, n := utf8.DecodeRune(s[si:])
				si += n
				pi++
				continue
			default:
				if p[pi] == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		pi = starP + 1
		_, n := utf8.DecodeRune(s[starS:])
		starS += n
		si = starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// luceneToRE2 translates a Lucene regular expression (the syntax
// Elasticsearch's EQL `regex` uses) to an RE2 expression matching the whole
// string.
func luceneToRE2(p string, fold bool) (*regexp.Regexp, error) {
	var b strings.Builder
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString(`^(?s:`)
	inClass := false
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && n <= 1 {
			return nil, fmt.Errorf("invalid UTF-8 in regular expression at byte %d", i)
		}
		i += n
		if inClass {
			switch r {
			case ']':
				inClass = false
				b.WriteRune(r)
			case '\\':
				if i >= len(p) {
					return nil, fmt.Errorf("trailing backslash in regular expression")
				}
				r2, n2 := utf8.DecodeRuneInString(p[i:])
				i += n2
				if cls, ok, err := predefinedClass(r2); err != nil {
					return nil, err
				} else if ok {
					b.WriteString(cls.inner)
					continue
				}
				classLiteral(&b, r2)
			case '[':
				b.WriteString(`\[`)
			default:
				b.WriteRune(r)
			}
			continue
		}

		switch r {
		case '\\':
			if i >= len(p) {
				return nil, fmt.Errorf("trailing backslash in regular expression")
			}
			r2, n2 := utf8.DecodeRuneInString(p[i:])
			i += n2
			if cls, ok, err := predefinedClass(r2); err != nil {
				return nil, err
			} else if ok {
				b.WriteString(cls.outer)
				continue
			}
			b.WriteString(regexp.QuoteMeta(string(r2)))
		case '"':
			e := strings.IndexByte(p[i:], '"')
			if e < 0 {
				return nil, fmt.Errorf("unterminated quoted string in regular expression")
			}
			b.WriteString(regexp.QuoteMeta(p[i : i+e]))
			i += e + 1
		case '[':
			inClass = true
			b.WriteRune(r)
			if i < len(p) && p[i] == '^' {
				b.WriteByte('^')
				i++
			}
			if i < len(p) && p[i] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case '.', '*', '+', '?', '{', '}', '|', '(', ')':
			b.WriteRune(r)
		case '@':
			b.WriteString(`.*`)
		case '#':
			b.WriteString(`[^\x00-\x{10FFFF}]`)
		case '&', '~', '<', '>':
			return nil, fmt.Errorf("the Lucene regular expression operator %q is not supported", r)
		case '^', '$':
			b.WriteString(regexp.QuoteMeta(string(r)))
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if inClass {
		return nil, fmt.Errorf("unterminated character class in regular expression")
	}
	b.WriteString(`)$`)
	return regexp.Compile(b.String())
}

// lucenePredefined are the predefined character classes of Lucene's RegExp
// (since Lucene 8.6, so Elasticsearch 7.9 and later; RegExp.expandPreDefined
// in Lucene 9): \d [0-9], \s [\t\n\r ] (no \f or \v), \w [0-9A-Z_a-z],
// and their complements \D \S \W, valid inside and outside brackets. The
// RE2 forms are explicit ranges, since RE2's \s includes \f and \v. inner is
// the form inside a bracket expression, outer outside one.
var lucenePredefined = map[rune]struct{ inner, outer string }{
	'd': {`0-9`, `[0-9]`},
	's': {`\t\n\r `, `[\t\n\r ]`},
	'w': {`0-9A-Z_a-z`, `[0-9A-Z_a-z]`},
	'D': {`\x00-/:-\x{10FFFF}`, `[^0-9]`},
	'S': {`\x00-\x08\x0B\x0C\x0E-\x1F!-\x{10FFFF}`, `[^\t\n\r ]`},
	'W': {`\x00-/:-@\[-^` + "`" + `{-\x{10FFFF}`, `[^0-9A-Z_a-z]`},
}

// predefinedClass reports whether \r is one of Lucene's predefined classes.
// Any other letter after a backslash is an error in Lucene ("invalid
// character class"), and so an error here; other escaped characters are
// literals.
func predefinedClass(r rune) (cls struct{ inner, outer string }, ok bool, err error) {
	if c, ok := lucenePredefined[r]; ok {
		return c, true, nil
	}
	if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
		return cls, false, fmt.Errorf("invalid character class \\%c in regular expression (Lucene knows \\d \\D \\s \\S \\w \\W; escape other letters by quoting them)", r)
	}
	return cls, false, nil
}

// classLiteral writes r as a literal inside an RE2 character class (an
// escaped character other than a predefined class is a literal in Lucene).
func classLiteral(b *strings.Builder, r rune) {
	if r < utf8.RuneSelf && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
		b.WriteByte('\\')
	}
	b.WriteRune(r)
}
