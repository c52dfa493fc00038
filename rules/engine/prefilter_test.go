package engine

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eqlstream/eqlstream/rules/eql"
)

// sampleMatch builds a random string that re matches (best effort: the
// caller checks).
func sampleMatch(r *rand.Rand, re *syntax.Regexp, b *strings.Builder) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, c := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && r.IntN(2) == 0 {
				c = []rune(strings.ToUpper(string(c)))[0]
			}
			b.WriteRune(c)
		}
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return
		}
		i := 2 * r.IntN(len(re.Rune)/2)
		lo, hi := re.Rune[i], re.Rune[i+1]
		if hi > lo+1000 {
			hi = lo + 1000
		}
		c := lo + rune(r.IntN(int(hi-lo)+1))
		if r.IntN(20) == 0 && hi >= utf8.RuneError && lo <= utf8.RuneError {
			b.WriteByte(0x80) // an invalid byte, read as U+FFFD
			return
		}
		b.WriteRune(c)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte("ab/ \x00é"[r.IntN(7)])
	case syntax.OpCapture, syntax.OpPlus:
		sampleMatch(r, re.Sub[0], b)
		if re.Op == syntax.OpPlus {
			for r.IntN(2) == 0 {
				sampleMatch(r, re.Sub[0], b)
			}
		}
	case syntax.OpStar, syntax.OpQuest:
		for r.IntN(2) == 0 {
			sampleMatch(r, re.Sub[0], b)
			if re.Op == syntax.OpQuest {
				break
			}
		}
	case syntax.OpRepeat:
		n := re.Min
		if re.Max > re.Min {
			n += r.IntN(re.Max - re.Min + 1)
		}
		for range n {
			sampleMatch(r, re.Sub[0], b)
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			sampleMatch(r, s, b)
		}
	case syntax.OpAlternate:
		sampleMatch(r, re.Sub[r.IntN(len(re.Sub))], b)
	}
}

// corpusRegexes returns the regex patterns of every corpus rule, with their
// case flag, plus a few hand-written ones.
func corpusRegexes(t *testing.T) []*regexp.Regexp {
	var out []*regexp.Regexp
	add := func(p string, fold bool) {
		re, err := luceneToRE2(p, fold)
		if err == nil {
			out = append(out, re)
		}
	}
	for _, p := range []string{`/[a-z0-9\s_\-\\./]+\s`, `.*[0-9]{1,3}\.[0-9]{1,3}:.*`, `k+`, `(ab|cd)e?`, `[^a]`, `é.*ß`, `"x.y"|z`, `a{0,2}`} {
		add(p, false)
		add(p, true)
	}
	for _, r := range loadCorpus(t) {
		st, err := eql.Parse(&eql.Source{Text: r.query})
		if err != nil {
			continue
		}
		for _, w := range wheres(st) {
			walkExpr(w, func(e eql.Expr) {
				if m, ok := e.(*eql.Match); ok && m.Kind == eql.MatchRegex {
					for _, l := range m.Patterns {
						add(l.Str, m.CaseInsensitive)
					}
				}
			})
		}
	}
	return out
}

// TestRegexPrefilter: a string the prefilter rejects is never one the regex
// matches, over generated event values, random strings and random matches
// of each corpus regex.
func TestRegexPrefilter(t *testing.T) {
	res := corpusRegexes(t)
	var inputs [][]byte
	p := compileDefs(t, linuxDefs(t), Options{})
	var ev Event
	var d decoder
	for _, raw := range loadBenchEvents(t)[:300] {
		if err := p.sch.decode(raw, &ev, 64, &d); err != nil {
			t.Fatal(err)
		}
		for _, vn := range ev.vals {
			if vn.v.Kind == KindString {
				inputs = append(inputs, append([]byte(nil), vn.v.Str...))
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			s := "aZ09./ \t:-_\\\x00\x80\xc3\xa9k"
			b[i] = s[r.IntN(len(s))]
		}
		inputs = append(inputs, b)
	}
	active, rejected, total := 0, 0, 0
	for _, re := range res {
		pre := newRegexPrefilter(re.String())
		if pre.active {
			active++
		}
		parsed, err := syntax.Parse(re.String(), syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		check := func(s []byte) {
			total++
			if !pre.may(s) {
				rejected++
				if re.Match(s) {
					t.Fatalf("%s: prefilter rejects %q, which matches", re, s)
				}
			}
		}
		for _, s := range inputs {
			check(s)
		}
		for range 300 {
			var b strings.Builder
			sampleMatch(r, parsed, &b)
			check([]byte(b.String()))
		}
	}
	t.Logf("%d regexes, %d with an active prefilter; %d of %d checks rejected", len(res), active, rejected, total)
}

// wheres returns the conditions of a statement's event queries.
func wheres(st *eql.Statement) []eql.Expr {
	var out []eql.Expr
	stages := func(ss []*eql.Stage) {
		for _, s := range ss {
			if s != nil {
				out = append(out, s.Query.Where)
			}
		}
	}
	switch q := st.Query.(type) {
	case *eql.EventQuery:
		out = append(out, q.Where)
	case *eql.SequenceQuery:
		stages(q.Stages)
		stages([]*eql.Stage{q.Until})
	case *eql.SampleQuery:
		stages(q.Stages)
	}
	return out
}

func walkExpr(e eql.Expr, fn func(eql.Expr)) {
	fn(e)
	switch x := e.(type) {
	case *eql.Binary:
		walkExpr(x.Left, fn)
		walkExpr(x.Right, fn)
	case *eql.Not:
		walkExpr(x.X, fn)
	case *eql.Neg:
		walkExpr(x.X, fn)
	case *eql.In:
		walkExpr(x.X, fn)
		for _, l := range x.List {
			walkExpr(l, fn)
		}
	case *eql.Match:
		walkExpr(x.X, fn)
	case *eql.Call:
		for _, a := range x.Args {
			walkExpr(a, fn)
		}
	}
}
