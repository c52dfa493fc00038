package eql

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// String prints the statement as a compact S-expression, for tests and
// diagnostics:
//
//	(where "process" (and (== process.name "sh") (not (in~ process.args "-c" "-x")))
//	(sequence (by host.id) (maxspan 5s) (stage (where "process" true) (by process.pid) (runs 2)) ...)
//
// Strings are Go-quoted; integers print as written and floats always carry a
// '.' or an exponent, so 1 and 1.0 stay distinct. Field segments that are not
// plain identifiers print in backticks.
func (st *Statement) String() string {
	if st == nil {
		return "<nil>"
	}
	var b strings.Builder
	writeQuery(&b, st.Query)
	for _, p := range st.Pipes {
		b.WriteString(" (pipe ")
		b.WriteString(p.Name)
		for _, a := range p.Args {
			b.WriteByte(' ')
			writeExpr(&b, a)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// sexpr prints one expression in the form used by Statement.String.
func sexpr(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeQuery(b *strings.Builder, q Query) {
	if isNilQuery(q) {
		b.WriteString("<nil>")
		return
	}
	switch q := q.(type) {
	case *EventQuery:
		writeEvent(b, q)
	case *SequenceQuery:
		b.WriteString("(sequence")
		writeBy(b, q.By)
		if q.MaxSpan > 0 {
			b.WriteString(" (maxspan ")
			b.WriteString(q.MaxSpan.String())
			b.WriteByte(')')
		}
		for _, s := range q.Stages {
			b.WriteByte(' ')
			writeStage(b, s)
		}
		if q.Until != nil {
			b.WriteString(" (until ")
			writeStage(b, q.Until)
			b.WriteByte(')')
		}
		b.WriteByte(')')
	case *SampleQuery:
		b.WriteString("(sample")
		writeBy(b, q.By)
		for _, s := range q.Stages {
			b.WriteByte(' ')
			writeStage(b, s)
		}
		b.WriteByte(')')
	default:
		b.WriteString("<unknown query>")
	}
}

// isNilQuery reports a nil Query, including a typed nil pointer.
func isNilQuery(q Query) bool {
	switch q := q.(type) {
	case *EventQuery:
		return q == nil
	case *SequenceQuery:
		return q == nil
	case *SampleQuery:
		return q == nil
	}
	return q == nil
}

func writeEvent(b *strings.Builder, q *EventQuery) {
	if q == nil {
		b.WriteString("<nil>")
		return
	}
	b.WriteString("(where ")
	if q.Any {
		b.WriteString("any")
	} else {
		b.WriteString(strconv.Quote(q.Category))
	}
	b.WriteByte(' ')
	writeExpr(b, q.Where)
	b.WriteByte(')')
}

func writeStage(b *strings.Builder, s *Stage) {
	if s.Missing {
		b.WriteString("(missing ")
	} else {
		b.WriteString("(stage ")
	}
	writeEvent(b, s.Query)
	writeBy(b, s.By)
	if s.Runs > 0 {
		b.WriteString(" (runs ")
		b.WriteString(strconv.Itoa(s.Runs))
		b.WriteByte(')')
	}
	b.WriteByte(')')
}

func writeBy(b *strings.Builder, fs []*Field) {
	if len(fs) == 0 {
		return
	}
	b.WriteString(" (by")
	for _, f := range fs {
		b.WriteByte(' ')
		writeField(b, f)
	}
	b.WriteByte(')')
}

var matchNames = [...]string{MatchSeq: ":", MatchLike: "like", MatchRegex: "regex"}

func writeExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *Field:
		writeField(b, e)
	case *Literal:
		writeLiteral(b, e)
	case *Binary:
		b.WriteByte('(')
		if int(e.Op) < len(opNames) {
			b.WriteString(e.Op.String())
		} else {
			b.WriteString("op" + strconv.Itoa(int(e.Op)))
		}
		b.WriteByte(' ')
		writeExpr(b, e.Left)
		b.WriteByte(' ')
		writeExpr(b, e.Right)
		b.WriteByte(')')
	case *Not:
		b.WriteString("(not ")
		writeExpr(b, e.X)
		b.WriteByte(')')
	case *Neg:
		b.WriteString("(neg ")
		writeExpr(b, e.X)
		b.WriteByte(')')
	case *In:
		b.WriteByte('(')
		if e.Negated {
			b.WriteString("not-")
		}
		b.WriteString("in")
		if e.CaseInsensitive {
			b.WriteByte('~')
		}
		b.WriteByte(' ')
		writeExpr(b, e.X)
		for _, x := range e.List {
			b.WriteByte(' ')
			writeExpr(b, x)
		}
		b.WriteByte(')')
	case *Match:
		b.WriteByte('(')
		if int(e.Kind) < len(matchNames) {
			b.WriteString(matchNames[e.Kind])
		} else {
			b.WriteString("match" + strconv.Itoa(int(e.Kind)))
		}
		if e.CaseInsensitive && e.Kind != MatchSeq {
			b.WriteByte('~')
		}
		b.WriteByte(' ')
		writeExpr(b, e.X)
		for _, p := range e.Patterns {
			b.WriteByte(' ')
			writeLiteral(b, p)
		}
		b.WriteByte(')')
	case *Call:
		b.WriteString("(call ")
		b.WriteString(e.Name)
		if e.CaseInsensitive {
			b.WriteByte('~')
		}
		for _, a := range e.Args {
			b.WriteByte(' ')
			writeExpr(b, a)
		}
		b.WriteByte(')')
	case nil:
		b.WriteString("<nil>")
	default:
		b.WriteString("<unknown expr>")
	}
}

func writeField(b *strings.Builder, f *Field) {
	if f.Optional {
		b.WriteByte('?')
	}
	for i, s := range f.Path {
		if i > 0 {
			b.WriteByte('.')
		}
		if isPlainIdent(s) {
			b.WriteString(s)
		} else {
			b.WriteByte('`')
			b.WriteString(strings.ReplaceAll(s, "`", "``"))
			b.WriteByte('`')
		}
	}
	for _, n := range f.Index {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(n))
		b.WriteByte(']')
	}
}

func isPlainIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) || reserved[s] {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentPart(s[i]) {
			return false
		}
	}
	return true
}

func writeLiteral(b *strings.Builder, l *Literal) {
	if l == nil {
		b.WriteString("<nil>")
		return
	}
	switch l.Kind {
	case LitNull:
		b.WriteString("null")
	case LitString:
		b.WriteString(strconv.Quote(l.Str))
	case LitInt:
		b.WriteString(strconv.FormatInt(l.Int, 10))
	case LitFloat:
		s := strconv.FormatFloat(l.Float, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0"
		}
		b.WriteString(s)
	case LitBool:
		b.WriteString(strconv.FormatBool(l.Bool))
	default:
		b.WriteString("<unknown literal>")
	}
}

// Format prints the statement back as EQL on one line. Parsing the result
// gives the same AST (positions aside); error messages use it to quote
// expressions.
func Format(st *Statement) string {
	var b strings.Builder
	if st == nil || isNilQuery(st.Query) {
		return ""
	}
	switch q := st.Query.(type) {
	case *EventQuery:
		fmtEvent(&b, q)
	case *SequenceQuery:
		b.WriteString("sequence")
		fmtBy(&b, q.By)
		if q.MaxSpan > 0 {
			b.WriteString(" with maxspan=")
			b.WriteString(fmtSpan(q.MaxSpan))
		}
		for _, s := range q.Stages {
			b.WriteByte(' ')
			fmtStage(&b, s)
		}
		if q.Until != nil {
			b.WriteString(" until ")
			fmtStage(&b, q.Until)
		}
	case *SampleQuery:
		b.WriteString("sample")
		fmtBy(&b, q.By)
		for _, s := range q.Stages {
			b.WriteByte(' ')
			fmtStage(&b, s)
		}
	}
	for _, p := range st.Pipes {
		b.WriteString(" | ")
		b.WriteString(p.Name)
		for i, a := range p.Args {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte(' ')
			fmtExpr(&b, a, 0)
		}
	}
	return b.String()
}

// FormatExpr prints an expression as EQL.
func FormatExpr(e Expr) string {
	var b strings.Builder
	fmtExpr(&b, e, 0)
	return b.String()
}

func fmtSpan(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
}

func fmtEvent(b *strings.Builder, q *EventQuery) {
	if q == nil {
		return
	}
	switch {
	case q.Any:
		b.WriteString("any")
	case isPlainIdent(q.Category):
		b.WriteString(q.Category)
	default:
		b.WriteString(quoteEQL(q.Category))
	}
	b.WriteString(" where ")
	fmtExpr(b, q.Where, 0)
}

func fmtStage(b *strings.Builder, s *Stage) {
	if s.Missing {
		b.WriteByte('!')
	}
	b.WriteByte('[')
	fmtEvent(b, s.Query)
	b.WriteByte(']')
	fmtBy(b, s.By)
	if s.Runs > 0 {
		b.WriteString(" with runs=")
		b.WriteString(strconv.Itoa(s.Runs))
	}
}

func fmtBy(b *strings.Builder, fs []*Field) {
	for i, f := range fs {
		if i == 0 {
			b.WriteString(" by ")
		} else {
			b.WriteString(", ")
		}
		writeField(b, f)
	}
}

// Precedence levels, loosest first, as the parser climbs them.
const (
	precOr = iota + 1
	precAnd
	precNot
	precPredicate // comparisons, in, :, like, regex
	precAdd
	precMul
	precUnary
	precPrimary
)

func prec(e Expr) int {
	switch e := e.(type) {
	case *Binary:
		switch e.Op {
		case OpOr:
			return precOr
		case OpAnd:
			return precAnd
		case OpAdd, OpSub:
			return precAdd
		case OpMul, OpDiv, OpMod:
			return precMul
		}
		return precPredicate
	case *Not:
		return precNot
	case *In, *Match:
		return precPredicate
	case *Neg:
		return precUnary
	case *Literal:
		if (e.Kind == LitInt && e.Int < 0) || (e.Kind == LitFloat && e.Float < 0) {
			return precUnary
		}
	}
	return precPrimary
}

// fmtExpr prints e, in parentheses when its precedence is below min.
func fmtExpr(b *strings.Builder, e Expr, min int) {
	if e == nil {
		b.WriteString("<nil>")
		return
	}
	p := prec(e)
	if p < min {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	switch e := e.(type) {
	case *Field:
		writeField(b, e)
	case *Literal:
		fmtLiteral(b, e)
	case *Binary:
		left, right := p, p+1
		if p == precPredicate {
			left, right = precAdd, precAdd
		}
		fmtExpr(b, e.Left, left)
		b.WriteByte(' ')
		b.WriteString(e.Op.String())
		b.WriteByte(' ')
		fmtExpr(b, e.Right, right)
	case *Not:
		b.WriteString("not ")
		fmtExpr(b, e.X, precNot)
	case *Neg:
		// -x, - -x: a unary operand needs no parentheses, which would
		// double the nesting depth the parser allows.
		b.WriteByte('-')
		if prec(e.X) == precUnary {
			b.WriteByte(' ')
		}
		fmtExpr(b, e.X, precUnary)
	case *In:
		fmtExpr(b, e.X, precAdd)
		if e.Negated {
			b.WriteString(" not")
		}
		b.WriteString(" in")
		if e.CaseInsensitive {
			b.WriteByte('~')
		}
		b.WriteString(" (")
		for i, x := range e.List {
			if i > 0 {
				b.WriteString(", ")
			}
			fmtExpr(b, x, 0)
		}
		b.WriteByte(')')
	case *Match:
		fmtExpr(b, e.X, precAdd)
		switch e.Kind {
		case MatchSeq:
			b.WriteString(" : ")
		case MatchLike, MatchRegex:
			b.WriteByte(' ')
			b.WriteString(matchNames[e.Kind])
			if e.CaseInsensitive {
				b.WriteByte('~')
			}
			b.WriteByte(' ')
		}
		if len(e.Patterns) == 1 {
			fmtLiteral(b, e.Patterns[0])
			break
		}
		b.WriteByte('(')
		for i, l := range e.Patterns {
			if i > 0 {
				b.WriteString(", ")
			}
			fmtLiteral(b, l)
		}
		b.WriteByte(')')
	case *Call:
		b.WriteString(e.Name)
		if e.CaseInsensitive {
			b.WriteByte('~')
		}
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			fmtExpr(b, a, 0)
		}
		b.WriteByte(')')
	}
}

func fmtLiteral(b *strings.Builder, l *Literal) {
	if l != nil && l.Kind == LitString {
		b.WriteString(quoteEQL(l.Str))
		return
	}
	writeLiteral(b, l)
}

// quoteEQL quotes s as an EQL string literal.
func quoteEQL(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte(s[i]) // not UTF-8: keep the byte as it was written
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case !unicode.IsPrint(r):
			b.WriteString(`\u{`)
			h := strconv.FormatInt(int64(r), 16)
			if len(h) < 2 {
				h = "0" + h
			}
			b.WriteString(h)
			b.WriteByte('}')
		default:
			b.WriteRune(r)
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}
