package engine

import (
	"bytes"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// A regexPrefilter rejects most strings a whole-string regular expression
// cannot match without running it: the first and last bytes of a match
// come from small sets, and some bytes must occur. Detection rules use
// regexes such as `/[a-z0-9\s_\-\\./]+\s` on process.executable, which no
// executable path ends like; Go's regexp costs far more than these checks.
//
// The analysis is conservative: where it is unsure (case folding beyond
// ASCII, multi-byte runes, empty matches) a set is left full and a check
// accepts everything, so a rejected string is never one the regex matches.
type regexPrefilter struct {
	first, last byteSet
	required    []byte // each must occur somewhere in a match
	active      bool   // at least one check can reject
}

type byteSet [4]uint64

func (s *byteSet) add(b byte)      { s[b>>6] |= 1 << (b & 63) }
func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *byteSet) union(o byteSet) {
	s[0], s[1], s[2], s[3] = s[0]|o[0], s[1]|o[1], s[2]|o[2], s[3]|o[3]
}
func (s *byteSet) full() bool { return s[0]&s[1]&s[2]&s[3] == ^uint64(0) }
func (s *byteSet) addRange(lo, hi int) {
	for c := lo; c <= hi && c < 256; c++ {
		s.add(byte(c))
	}
}

var fullSet = byteSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}

// may reports whether the regex may match s; false is certain.
func (f *regexPrefilter) may(s []byte) bool {
	if !f.active {
		return true
	}
	if len(s) == 0 {
		return false // active implies no empty match
	}
	if !f.first.has(s[0]) || !f.last.has(s[len(s)-1]) {
		return false
	}
	for _, b := range f.required {
		if bytes.IndexByte(s, b) < 0 {
			return false
		}
	}
	return true
}

// newRegexPrefilter analyses expr, an RE2 expression as regexp.Compile
// takes it, that luceneToRE2 anchors at both ends.
func newRegexPrefilter(expr string) regexPrefilter {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return regexPrefilter{}
	}
	re = re.Simplify()
	a := analyse(re)
	if a.nullable || !anchoredBoth(re) {
		return regexPrefilter{}
	}
	f := regexPrefilter{first: a.first, last: a.last}
	for b := 0; b < 256; b++ {
		if a.required.has(byte(b)) {
			f.required = append(f.required, byte(b))
		}
	}
	if len(f.required) > 3 {
		f.required = f.required[:3]
	}
	f.active = !f.first.full() || !f.last.full() || len(f.required) > 0
	return f
}

// anchoredBoth reports whether re is ^...$ (begin and end of text), so the
// first and last bytes of a match are those of the string.
func anchoredBoth(re *syntax.Regexp) bool {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return false
	}
	return re.Sub[0].Op == syntax.OpBeginText && re.Sub[len(re.Sub)-1].Op == syntax.OpEndText
}

type reFacts struct {
	first, last byteSet // bytes a non-empty match may start / end with
	required    byteSet // bytes every match contains
	nullable    bool    // may match the empty string
}

// runeBytes adds the first (or last) byte of r's UTF-8 encoding, and of its
// case variants when fold is set.
func runeBytes(s *byteSet, r rune, fold, last bool) {
	add := func(r rune) {
		if r == utf8.RuneError {
			s.addRange(0x80, 0xff) // an invalid byte reads as U+FFFD
			return
		}
		if r < utf8.RuneSelf {
			s.add(byte(r))
			return
		}
		var buf [utf8.UTFMax]byte
		n := utf8.EncodeRune(buf[:], r)
		if last {
			s.add(buf[n-1])
		} else {
			s.add(buf[0])
		}
	}
	add(r)
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			add(f)
		}
	}
}

func analyse(re *syntax.Regexp) reFacts {
	switch re.Op {
	case syntax.OpNoMatch:
		return reFacts{}
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return reFacts{nullable: true}
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return reFacts{nullable: true}
		}
		fold := re.Flags&syntax.FoldCase != 0
		var f reFacts
		runeBytes(&f.first, re.Rune[0], fold, false)
		runeBytes(&f.last, re.Rune[len(re.Rune)-1], fold, true)
		for _, r := range re.Rune {
			if r < utf8.RuneSelf && (!fold || unicode.SimpleFold(r) == r) {
				f.required.add(byte(r))
			}
		}
		return f
	case syntax.OpCharClass:
		var f reFacts
		single := -1
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if lo == hi && lo < utf8.RuneSelf && len(re.Rune) == 2 {
				single = int(lo)
			}
			if lo < utf8.RuneSelf {
				f.first.addRange(int(lo), int(min(hi, utf8.RuneSelf-1)))
			}
			if hi >= utf8.RuneSelf {
				// Multi-byte runes, and invalid bytes read as U+FFFD.
				f.first.addRange(0x80, 0xff)
			}
		}
		f.last = f.first
		if single >= 0 {
			f.required.add(byte(single))
		}
		return f
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return reFacts{first: fullSet, last: fullSet}
	case syntax.OpCapture:
		return analyse(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		f := analyse(re.Sub[0])
		return reFacts{first: f.first, last: f.last, nullable: true}
	case syntax.OpPlus:
		return analyse(re.Sub[0])
	case syntax.OpRepeat:
		f := analyse(re.Sub[0])
		if re.Min == 0 {
			return reFacts{first: f.first, last: f.last, nullable: true}
		}
		return f
	case syntax.OpConcat:
		out := reFacts{nullable: true}
		subs := make([]reFacts, len(re.Sub))
		for i, s := range re.Sub {
			subs[i] = analyse(s)
			out.required.union(subs[i].required)
		}
		for _, s := range subs {
			out.first.union(s.first)
			if !s.nullable {
				out.nullable = false
				break
			}
		}
		for i := len(subs) - 1; i >= 0; i-- {
			out.last.union(subs[i].last)
			if !subs[i].nullable {
				break
			}
		}
		return out
	case syntax.OpAlternate:
		var out reFacts
		for i, s := range re.Sub {
			f := analyse(s)
			out.first.union(f.first)
			out.last.union(f.last)
			out.nullable = out.nullable || f.nullable
			if i == 0 {
				out.required = f.required
			} else {
				for k := range out.required {
					out.required[k] &= f.required[k]
				}
			}
		}
		return out
	}
	// Unknown operators: assume anything.
	return reFacts{first: fullSet, last: fullSet, nullable: true}
}
