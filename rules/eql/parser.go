package eql

import (
	"fmt"
	"strconv"
	"time"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// MaxDepth bounds expression nesting so hostile input cannot exhaust the stack.
const MaxDepth = 200

type parser struct {
	src   *Source
	toks  []token
	i     int
	errs  Errors
	depth int
}

type bailout struct{}

// Parse parses one EQL statement. The error, if any, is an Errors value whose
// entries carry positions in src.
func Parse(src *Source) (*Statement, error) {
	lx := &lexer{src: src, s: src.Text}
	var toks []token
	for {
		t := lx.next()
		toks = append(toks, t)
		if t.kind == tEOF {
			break
		}
	}
	if len(lx.errs) > 0 {
		return nil, lx.errs[:1]
	}
	p := &parser{src: src, toks: toks}
	st, ok := p.parse()
	if !ok {
		return nil, p.errs[:1]
	}
	return st, nil
}

// ParseString parses an inline query.
func ParseString(q string) (*Statement, error) { return Parse(&Source{Text: q}) }

func (p *parser) parse() (st *Statement, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, isBail := r.(bailout); !isBail {
				panic(r)
			}
			st, ok = nil, false
		}
	}()
	st = &Statement{}
	st.Query = p.query()
	for p.peek().kind == tPipe {
		pt := p.advance()
		name := p.expect(tIdent, "a pipe name")
		pipe := &Pipe{Pos: pt.pos, Name: name.text}
		for k := p.peek().kind; k != tPipe && k != tEOF; k = p.peek().kind {
			pipe.Args = append(pipe.Args, p.expr())
			if p.peek().kind == tComma {
				p.advance()
			}
		}
		st.Pipes = append(st.Pipes, pipe)
	}
	if t := p.peek(); t.kind != tEOF {
		p.fail(t.pos, "unexpected %s after the end of the query", describe(t))
	}
	return st, true
}

func (p *parser) peek() token  { return p.toks[p.i] }
func (p *parser) peek2() token { return p.toks[min(p.i+1, len(p.toks)-1)] }
func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) fail(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, &Error{Src: p.src, Pos: pos, Msg: sprintf(format, args...)})
	panic(bailout{})
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return "string " + strconv.Quote(t.text)
	case tIdent, tTildeIdent:
		return strconv.Quote(t.text)
	default:
		return strconv.Quote(t.text)
	}
}

func (p *parser) expect(k tokKind, what string) token {
	t := p.peek()
	if t.kind != k {
		p.fail(t.pos, "expected %s, found %s", what, describe(t))
	}
	return p.advance()
}

func (p *parser) isKeyword(word string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == word
}

func (p *parser) expectKeyword(word string) token {
	t := p.peek()
	if t.kind != tIdent || t.text != word {
		p.fail(t.pos, "expected %q, found %s", word, describe(t))
	}
	return p.advance()
}

var reserved = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "like": true, "regex": true, "where": true,
	"any": true, "sequence": true, "sample": true, "join": true, "by": true, "with": true,
	"until": true, "of": true, "null": true, "true": true, "false": true, "maxspan": true,
}

func (p *parser) query() Query {
	t := p.peek()
	if t.kind == tIdent {
		switch t.text {
		case "sequence":
			return p.sequence()
		case "sample":
			return p.sample()
		case "join":
			p.fail(t.pos, "join is not supported by Elasticsearch EQL")
		}
	}
	return p.eventQuery()
}

func (p *parser) eventQuery() *EventQuery {
	t := p.peek()
	q := &EventQuery{Pos: t.pos}
	switch {
	case t.kind == tIdent && t.text == "any":
		p.advance()
		q.Any = true
	case t.kind == tIdent && !reserved[t.text]:
		p.advance()
		q.Category = t.text
	case t.kind == tString:
		p.advance()
		q.Category = t.text
	case t.kind == tQuotedIdent:
		p.fail(t.pos, "an event category cannot be in backticks; use double quotes")
	default:
		p.fail(t.pos, "expected an event category, `any`, `sequence` or `sample`, found %s", describe(t))
	}
	p.expectKeyword("where")
	q.Where = p.expr()
	return q
}

func (p *parser) joinKeys() []*Field {
	p.expectKeyword("by")
	var fs []*Field
	for {
		t := p.peek()
		e := p.expr()
		f, ok := e.(*Field)
		if !ok {
			p.fail(t.pos, "join keys must be fields")
		}
		fs = append(fs, f)
		if p.peek().kind != tComma {
			return fs
		}
		p.advance()
	}
}

func (p *parser) maxspan() time.Duration {
	p.expectKeyword("with")
	kw := p.peek()
	p.expectKeyword("maxspan")
	p.expect(tAssign, "`=`")
	nt := p.peek()
	if nt.kind != tInt {
		p.fail(nt.pos, "expected a time span such as 5s, found %s", describe(nt))
	}
	p.advance()
	n, err := strconv.ParseInt(nt.text, 10, 64)
	if err != nil {
		p.fail(nt.pos, "invalid maxspan %s", nt.text)
	}
	ut := p.peek()
	if ut.kind != tIdent || (ut.pos != nt.end && !timeUnits[ut.text]) {
		p.fail(ut.pos, "maxspan needs a time unit (ms, s, m, h, d)")
	}
	p.advance()
	var unit time.Duration
	switch ut.text {
	case "ms":
		unit = time.Millisecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		p.fail(ut.pos, "unknown time unit %q (use ms, s, m, h or d)", ut.text)
	}
	if n <= 0 {
		p.fail(kw.pos, "maxspan must be positive")
	}
	if n > int64(1<<62)/int64(unit) {
		p.fail(nt.pos, "maxspan too large")
	}
	return time.Duration(n) * unit
}

var timeUnits = map[string]bool{"ms": true, "s": true, "m": true, "h": true, "d": true}

func (p *parser) sequence() *SequenceQuery {
	st := p.advance()
	q := &SequenceQuery{Pos: st.pos}
	if p.isKeyword("by") {
		q.By = p.joinKeys()
		if p.isKeyword("with") {
			q.MaxSpan = p.maxspan()
		}
	} else if p.isKeyword("with") {
		q.MaxSpan = p.maxspan()
		if p.isKeyword("by") {
			q.By = p.joinKeys()
		}
	}
	for k := p.peek().kind; k == tLBracket || k == tBang; k = p.peek().kind {
		q.Stages = append(q.Stages, p.stage(true))
	}
	if p.isKeyword("until") {
		p.advance()
		u := p.stage(false)
		if u.Missing || u.Runs > 0 {
			p.fail(u.Pos, "an until stage cannot be a missing event or repeated")
		}
		q.Until = u
	}
	positive, total := 0, 0
	for _, s := range q.Stages {
		total += max(s.Runs, 1)
		if !s.Missing {
			positive++
		}
	}
	if total < 2 {
		p.fail(st.pos, "a sequence needs at least two stages")
	}
	if positive == 0 {
		p.fail(st.pos, "a sequence needs at least one stage that is not a missing event")
	}
	return q
}

func (p *parser) sample() *SampleQuery {
	st := p.advance()
	q := &SampleQuery{Pos: st.pos}
	if p.isKeyword("by") {
		q.By = p.joinKeys()
	}
	for p.peek().kind == tLBracket {
		s := p.stage(false)
		if s.Runs > 0 {
			p.fail(s.Pos, "sample stages cannot be repeated with runs")
		}
		q.Stages = append(q.Stages, s)
	}
	if len(q.Stages) < 2 {
		p.fail(st.pos, "a sample needs at least two stages")
	}
	return q
}

func (p *parser) stage(allowMissing bool) *Stage {
	t := p.peek()
	s := &Stage{Pos: t.pos}
	if t.kind == tBang {
		if !allowMissing {
			p.fail(t.pos, "missing-event stages are only allowed in sequences")
		}
		p.advance()
		s.Missing = true
		if nt := p.peek(); nt.kind != tLBracket || nt.pos != t.end {
			p.fail(nt.pos, "expected `[` right after `!`")
		}
	}
	p.expect(tLBracket, "`[`")
	s.Query = p.eventQuery()
	p.expect(tRBracket, "`]`")
	if p.isKeyword("by") {
		s.By = p.joinKeys()
	}
	if p.isKeyword("with") && p.peek2().kind == tIdent && p.peek2().text == "runs" {
		p.advance()
		p.advance()
		p.expect(tAssign, "`=`")
		nt := p.expect(tInt, "a number of runs")
		n, err := strconv.Atoi(nt.text)
		if err != nil || n < 1 || n > 100 {
			p.fail(nt.pos, "runs must be between 1 and 100")
		}
		s.Runs = n
	}
	return s
}

func (p *parser) enter(pos Pos) {
	p.depth++
	if p.depth > MaxDepth {
		p.fail(pos, "expression nested too deeply (more than %d levels)", MaxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) expr() Expr { return p.or() }

func (p *parser) or() Expr {
	x := p.and()
	for p.isKeyword("or") {
		t := p.advance()
		y := p.and()
		x = &Binary{Pos: t.pos, Op: OpOr, Left: x, Right: y}
	}
	return x
}

func (p *parser) and() Expr {
	x := p.not()
	for p.isKeyword("and") {
		t := p.advance()
		y := p.not()
		x = &Binary{Pos: t.pos, Op: OpAnd, Left: x, Right: y}
	}
	return x
}

func (p *parser) not() Expr {
	if p.isKeyword("not") {
		t := p.advance()
		p.enter(t.pos)
		x := p.not()
		p.leave()
		return &Not{Pos: t.pos, X: x}
	}
	return p.predicate()
}

func (p *parser) predicate() Expr {
	x := p.additive()
	t := p.peek()
	var op Op
	switch t.kind {
	case tEq:
		op = OpEq
	case tNeq:
		op = OpNeq
	case tLt:
		op = OpLt
	case tLte:
		op = OpLte
	case tGt:
		op = OpGt
	case tGte:
		op = OpGte
	case tAssign:
		p.fail(t.pos, "use == for equality, not =")
	case tColon:
		p.advance()
		return &Match{Pos: t.pos, Kind: MatchSeq, X: x, Patterns: p.patterns(), CaseInsensitive: true}
	case tIdent, tTildeIdent:
		return p.wordPredicate(x)
	default:
		return x
	}
	p.advance()
	y := p.additive()
	return &Binary{Pos: t.pos, Op: op, Left: x, Right: y}
}

func (p *parser) wordPredicate(x Expr) Expr {
	t := p.peek()
	negated := false
	if t.kind == tIdent && t.text == "not" {
		nt := p.peek2()
		if (nt.kind == tIdent || nt.kind == tTildeIdent) && nt.text == "in" {
			p.advance()
			negated = true
			t = p.peek()
		} else {
			p.fail(nt.pos, "expected `in` after `not`, found %s", describe(nt))
		}
	}
	ci := t.kind == tTildeIdent
	switch t.text {
	case "in":
		p.advance()
		p.expect(tLParen, "`(` to start the list")
		in := &In{Pos: t.pos, X: x, Negated: negated, CaseInsensitive: ci}
		p.enter(t.pos)
		for {
			in.List = append(in.List, p.expr())
			if p.peek().kind == tComma {
				p.advance()
				continue
			}
			break
		}
		p.leave()
		p.expect(tRParen, "`,` or `)`")
		return in
	case "like":
		p.advance()
		return &Match{Pos: t.pos, Kind: MatchLike, X: x, Patterns: p.patterns(), CaseInsensitive: ci}
	case "regex":
		p.advance()
		return &Match{Pos: t.pos, Kind: MatchRegex, X: x, Patterns: p.patterns(), CaseInsensitive: ci}
	}
	if ci {
		p.fail(t.pos, "unexpected %s", describe(t))
	}
	return x
}

func (p *parser) patterns() []*Literal {
	if p.peek().kind == tLParen {
		p.advance()
		var ls []*Literal
		for {
			ls = append(ls, p.stringLit())
			if p.peek().kind == tComma {
				p.advance()
				continue
			}
			break
		}
		p.expect(tRParen, "`,` or `)`")
		return ls
	}
	return []*Literal{p.stringLit()}
}

func (p *parser) stringLit() *Literal {
	t := p.peek()
	if t.kind != tString {
		p.fail(t.pos, "expected a string pattern, found %s", describe(t))
	}
	p.advance()
	return &Literal{Pos: t.pos, Kind: LitString, Str: t.text}
}

func (p *parser) additive() Expr {
	x := p.multiplicative()
	for {
		t := p.peek()
		var op Op
		switch t.kind {
		case tPlus:
			op = OpAdd
		case tMinus:
			op = OpSub
		default:
			return x
		}
		p.advance()
		y := p.multiplicative()
		x = &Binary{Pos: t.pos, Op: op, Left: x, Right: y}
	}
}

func (p *parser) multiplicative() Expr {
	x := p.unary()
	for {
		t := p.peek()
		var op Op
		switch t.kind {
		case tStar:
			op = OpMul
		case tSlash:
			op = OpDiv
		case tPercent:
			op = OpMod
		default:
			return x
		}
		p.advance()
		y := p.unary()
		x = &Binary{Pos: t.pos, Op: op, Left: x, Right: y}
	}
}

func (p *parser) unary() Expr {
	t := p.peek()
	switch t.kind {
	case tMinus:
		p.advance()
		if nt := p.peek(); nt.kind == tInt {
			// -9223372036854775808 is an int64 although its magnitude is not.
			if v, err := strconv.ParseInt("-"+nt.text, 10, 64); err == nil {
				p.advance()
				return &Literal{Pos: t.pos, Kind: LitInt, Int: v, Float: float64(v)}
			}
		}
		p.enter(t.pos)
		x := p.unary()
		p.leave()
		if l, ok := x.(*Literal); ok && (l.Kind == LitInt || l.Kind == LitFloat) {
			l.Pos = t.pos
			l.Int, l.Float = -l.Int, -l.Float
			return l
		}
		return &Neg{Pos: t.pos, X: x}
	case tPlus:
		p.advance()
		p.enter(t.pos)
		x := p.unary()
		p.leave()
		return x
	}
	return p.primary()
}

func (p *parser) primary() Expr {
	t := p.peek()
	switch t.kind {
	case tString:
		p.advance()
		return &Literal{Pos: t.pos, Kind: LitString, Str: t.text}
	case tInt:
		p.advance()
		v, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(t.text, 64)
			if ferr != nil {
				p.fail(t.pos, "invalid number %s", t.text)
			}
			return &Literal{Pos: t.pos, Kind: LitFloat, Float: f}
		}
		return &Literal{Pos: t.pos, Kind: LitInt, Int: v, Float: float64(v)}
	case tFloat:
		p.advance()
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			p.fail(t.pos, "invalid number %s", t.text)
		}
		return &Literal{Pos: t.pos, Kind: LitFloat, Float: f}
	case tLParen:
		p.advance()
		p.enter(t.pos)
		x := p.expr()
		p.leave()
		p.expect(tRParen, "`)`")
		return x
	case tQuestion:
		p.advance()
		f := p.field(p.peek())
		f.Pos = t.pos
		f.Optional = true
		return f
	case tTildeIdent:
		if p.peek2().kind != tLParen {
			p.fail(t.pos, "`~` is only allowed after a function name or in~, like~, regex~")
		}
		return p.call()
	case tIdent:
		switch t.text {
		case "null":
			p.advance()
			return &Literal{Pos: t.pos, Kind: LitNull}
		case "true", "false":
			p.advance()
			return &Literal{Pos: t.pos, Kind: LitBool, Bool: t.text == "true"}
		}
		if p.peek2().kind == tLParen && !reserved[t.text] {
			return p.call()
		}
		if reserved[t.text] {
			p.fail(t.pos, "unexpected keyword %q, expected a value", t.text)
		}
		return p.field(t)
	case tQuotedIdent:
		return p.field(t)
	}
	p.fail(t.pos, "expected a value, found %s", describe(t))
	return nil
}

func (p *parser) call() Expr {
	t := p.advance()
	c := &Call{Pos: t.pos, Name: t.text, CaseInsensitive: t.kind == tTildeIdent}
	p.expect(tLParen, "`(`")
	p.enter(t.pos)
	if p.peek().kind != tRParen {
		for {
			c.Args = append(c.Args, p.expr())
			if p.peek().kind == tComma {
				p.advance()
				continue
			}
			break
		}
	}
	p.leave()
	end := p.expect(tRParen, "`,` or `)`")
	c.EndPos = end.pos
	return c
}

func (p *parser) field(t token) *Field {
	f := &Field{Pos: t.pos}
	seg := func() {
		t := p.peek()
		switch t.kind {
		case tIdent, tQuotedIdent:
			p.advance()
			f.Path = append(f.Path, t.text)
		default:
			p.fail(t.pos, "expected a field name, found %s", describe(t))
		}
	}
	seg()
	for {
		t := p.peek()
		switch {
		case t.kind == tDot:
			p.advance()
			seg()
		case t.kind == tLBracket && t.pos == p.toks[p.i-1].end && p.peek2().kind == tInt:
			// f[0]; `by f[b where ...]` is a join key followed by a stage.
			p.advance()
			n := p.expect(tInt, "an array index")
			v, err := strconv.Atoi(n.text)
			if err != nil {
				p.fail(n.pos, "invalid array index")
			}
			f.Index = append(f.Index, v)
			p.expect(tRBracket, "`]`")
		default:
			return f
		}
	}
}
