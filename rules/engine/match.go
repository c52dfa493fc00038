package engine

import (
	"bytes"
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
