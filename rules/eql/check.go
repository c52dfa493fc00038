package eql

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// FuncInfo describes a built-in EQL function as Elasticsearch defines it
// (EqlFunctionRegistry and the EQL function reference).
type FuncInfo struct {
	Name            string // canonical camelCase spelling, e.g. "stringContains"
	MinArgs         int
	MaxArgs         int  // -1: no upper bound (cidrMatch, concat)
	CaseInsensitive bool // name~(...) is allowed
}

// argKind is what a function expects in one argument position.
type argKind uint8

const (
	argAny     argKind = iota
	argString          // string or null; fields allowed
	argNumber          // integer or float or null; fields allowed
	argInteger         // integer or null; fields allowed
	argBool            // boolean or null
	argIP              // an IP address: a field, or a string literal that parses as one
	argCIDR            // a constant string: an address or a CIDR block
	argRadix           // number()'s base: an integer literal 2..36 or null; no fields
)

// valType is the statically known type of an expression.
type valType uint8

const (
	typeUnknown valType = iota // fields, and anything whose type depends on data
	typeNull
	typeBool
	typeNumber
	typeString
)

var typeNames = [...]string{"value", "null", "boolean", "number", "string"}

type funcSpec struct {
	FuncInfo
	args   []argKind // by position; the last one repeats when MaxArgs < 0
	result valType
}

func (s *funcSpec) arg(i int) argKind {
	if i < len(s.args) {
		return s.args[i]
	}
	return s.args[len(s.args)-1]
}

// funcs is keyed by lower-case name: Elasticsearch resolves function names
// case-insensitively (the corpus writes cidrmatch, startswith~, endswith~).
// The ~ variants are exactly the functions that extend
// CaseInsensitiveScalarFunction: between, endsWith, indexOf, startsWith,
// stringContains.
var funcs = map[string]*funcSpec{
	"add":            {FuncInfo{"add", 2, 2, false}, []argKind{argNumber, argNumber}, typeNumber},
	"between":        {FuncInfo{"between", 3, 4, true}, []argKind{argString, argString, argString, argBool}, typeString},
	"cidrmatch":      {FuncInfo{"cidrMatch", 2, -1, false}, []argKind{argIP, argCIDR}, typeBool},
	"concat":         {FuncInfo{"concat", 1, -1, false}, []argKind{argAny}, typeString},
	"divide":         {FuncInfo{"divide", 2, 2, false}, []argKind{argNumber, argNumber}, typeNumber},
	"endswith":       {FuncInfo{"endsWith", 2, 2, true}, []argKind{argString, argString}, typeBool},
	"indexof":        {FuncInfo{"indexOf", 2, 3, true}, []argKind{argString, argString, argInteger}, typeNumber},
	"length":         {FuncInfo{"length", 1, 1, false}, []argKind{argString}, typeNumber},
	"modulo":         {FuncInfo{"modulo", 2, 2, false}, []argKind{argNumber, argNumber}, typeNumber},
	"multiply":       {FuncInfo{"multiply", 2, 2, false}, []argKind{argNumber, argNumber}, typeNumber},
	"number":         {FuncInfo{"number", 1, 2, false}, []argKind{argString, argRadix}, typeNumber},
	"startswith":     {FuncInfo{"startsWith", 2, 2, true}, []argKind{argString, argString}, typeBool},
	"string":         {FuncInfo{"string", 1, 1, false}, []argKind{argAny}, typeString},
	"stringcontains": {FuncInfo{"stringContains", 2, 2, true}, []argKind{argString, argString}, typeBool},
	"substring":      {FuncInfo{"substring", 2, 3, false}, []argKind{argString, argInteger, argInteger}, typeString},
	"subtract":       {FuncInfo{"subtract", 2, 2, false}, []argKind{argNumber, argNumber}, typeNumber},
}

// LookupFunc resolves a function name case-insensitively, as Elasticsearch
// does. The returned Name is the canonical camelCase spelling.
func LookupFunc(name string) (FuncInfo, bool) {
	s, ok := funcs[strings.ToLower(name)]
	if !ok {
		return FuncInfo{}, false
	}
	return s.FuncInfo, true
}

// hostScoped are the fields that pin a join key to one host: a sequence keyed
// by one of them can be evaluated inside a stream partitioned by host.
var hostScoped = map[string]bool{"host.id": true, "host.name": true, "host.hostname": true, "agent.id": true}

// Check validates a parsed statement against what Elasticsearch EQL accepts
// and what eqlstream can run. Errors come back as an Errors value sorted by
// position; warnings (valid queries that probably do not do what their author
// meant, or that constrain how they can be run) are returned even when there
// are errors. Regular expressions are not validated here: the compiler does
// that when it compiles them.
func Check(st *Statement, src *Source) (warnings Errors, err error) {
	if src == nil {
		src = &Source{}
	}
	c := &checker{src: src}
	if st == nil {
		c.errorf(0, "no statement")
	} else {
		for _, p := range st.Pipes {
			c.errorf(p.Pos, "pipes are not supported")
		}
		switch q := st.Query.(type) {
		case *EventQuery:
			c.event(q, 0)
		case *SequenceQuery:
			if q != nil {
				c.sequence(q)
				break
			}
			c.errorf(0, "no query")
		case *SampleQuery:
			if q != nil {
				c.sample(q)
				break
			}
			c.errorf(0, "no query")
		default:
			c.errorf(0, "no query")
		}
	}
	c.errs = capped(c.errs, "errors")
	c.warns = capped(c.warns, "warnings")
	if len(c.errs) > 0 {
		return c.warns, c.errs
	}
	return c.warns, nil
}

// maxDiagnostics bounds the errors and the warnings Check returns: printing
// each one resolves its line, so hostile input with thousands of mistakes
// must not produce thousands of diagnostics.
const maxDiagnostics = 50

// capped sorts es by position and keeps the first maxDiagnostics, replacing
// the rest with one entry that says how many were dropped.
func capped(es Errors, what string) Errors {
	slices.SortStableFunc(es, func(a, b *Error) int { return int(a.Pos - b.Pos) })
	if len(es) <= maxDiagnostics {
		return es
	}
	more := &Error{Src: es[maxDiagnostics].Src, Pos: es[maxDiagnostics].Pos,
		Msg: sprintf("%d more %s not shown", len(es)-maxDiagnostics, what)}
	return append(es[:maxDiagnostics:maxDiagnostics], more)
}

type checker struct {
	src   *Source
	errs  Errors
	warns Errors
}

func (c *checker) errorf(p Pos, format string, args ...any) {
	c.errs = append(c.errs, &Error{Src: c.src, Pos: p, Msg: sprintf(format, args...)})
}

func (c *checker) warnf(p Pos, format string, args ...any) {
	c.warns = append(c.warns, &Error{Src: c.src, Pos: p, Msg: sprintf(format, args...)})
}

func (c *checker) event(q *EventQuery, at Pos) {
	if q == nil {
		c.errorf(at, "missing event query")
		return
	}
	c.cond(q.Where, q.Pos)
}

func (c *checker) stage(s *Stage) {
	c.event(s.Query, s.Pos)
	for _, f := range s.By {
		c.field(f)
	}
}

// stages returns a sequence's stages with the until stage last, skipping nils.
func stagesOf(ss []*Stage, until *Stage) []*Stage {
	out := make([]*Stage, 0, len(ss)+1)
	for _, s := range ss {
		if s != nil {
			out = append(out, s)
		}
	}
	if until != nil {
		out = append(out, until)
	}
	return out
}

// byPos is where an error about a stage's join keys points: its by list, or
// the stage when it has none.
func byPos(s *Stage) Pos {
	if len(s.By) > 0 && s.By[0] != nil {
		return s.By[0].Pos
	}
	return s.Pos
}

// joinKeyCounts reports stages whose by list differs in length from the first
// stage's (header keys are common to all stages, so only stage keys count).
func (c *checker) joinKeyCounts(stages []*Stage, until *Stage) {
	n := -1
	for _, s := range stages {
		if n < 0 {
			n = len(s.By)
		} else if len(s.By) != n {
			c.errorf(byPos(s), "inconsistent number of join keys: expected %d, as in the first stage, but found %d", n, len(s.By))
		}
	}
	if until != nil && n >= 0 && len(until.By) != n {
		c.errorf(byPos(until), "the until stage has %d join keys but the other stages have %d", len(until.By), n)
	}
}

func (c *checker) sequence(q *SequenceQuery) {
	for _, f := range q.By {
		c.field(f)
	}
	stages := stagesOf(q.Stages, nil)
	total := 0
	for _, s := range stages {
		c.stage(s)
		total += max(s.Runs, 1)
		if s.Missing && q.MaxSpan <= 0 {
			c.errorf(s.Pos, "a missing-event stage ![...] needs the sequence to have with maxspan")
		}
	}
	if total < 2 {
		c.errorf(q.Pos, "a sequence needs at least two stages")
	}
	if q.Until != nil {
		c.stage(q.Until)
		if q.Until.Missing || q.Until.Runs > 0 {
			c.errorf(q.Until.Pos, "an until stage cannot be a missing event or repeated")
		}
	}
	c.joinKeyCounts(stages, q.Until)
	if q.MaxSpan <= 0 {
		c.warnf(q.Pos, "sequence without maxspan: in a rule its window is the rule's lookback (from, Kibana's default now-6m); an ad-hoc --query has no time bound, only --max-states")
	}
	if !hostKeyed(q.By, stagesOf(q.Stages, q.Until)) {
		c.warnf(q.Pos, "%s", notHostScoped("sequence"))
	}
}

func (c *checker) sample(q *SampleQuery) {
	for _, f := range q.By {
		c.field(f)
	}
	stages := stagesOf(q.Stages, nil)
	for _, s := range stages {
		c.stage(s)
		if s.Missing || s.Runs > 0 {
			c.errorf(s.Pos, "sample stages cannot be missing events or repeated with runs")
		}
	}
	if len(stages) < 2 {
		c.errorf(q.Pos, "a sample needs at least two stages")
	}
	c.joinKeyCounts(stages, nil)
	if !hostKeyed(q.By, stages) {
		c.warnf(q.Pos, "%s", notHostScoped("sample"))
	}
}

func notHostScoped(what string) string {
	return "join keys do not include a host-scoped field (host.id, host.name, host.hostname or agent.id): " +
		"this " + what + " cannot be evaluated inside a host-partitioned stream"
}

// hostKeyed reports whether some join key position is host-scoped in every
// stage: a header key, or a stage key position whose field is host-scoped in
// all stages (including missing-event and until stages, which must be looked
// up in the same partition).
func hostKeyed(header []*Field, stages []*Stage) bool {
	for _, f := range header {
		if f != nil && hostScoped[f.Name()] {
			return true
		}
	}
	if len(stages) == 0 {
		return false
	}
	for i := range stages[0].By {
		all := true
		for _, s := range stages {
			if i >= len(s.By) || s.By[i] == nil || !hostScoped[s.By[i].Name()] {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (c *checker) field(f *Field) {
	if f == nil {
		return
	}
	if len(f.Path) == 0 || (len(f.Path) == 1 && f.Path[0] == "") {
		c.errorf(f.Pos, "empty field name")
	}
	if len(f.Index) > 0 {
		c.errorf(f.Pos, "array subscripts are not supported: %s", FormatExpr(f))
	}
}

// cond checks an expression used as a condition: a where clause, or an
// operand of and, or, not.
func (c *checker) cond(e Expr, at Pos) {
	if e == nil {
		c.errorf(at, "missing condition")
		return
	}
	t := c.expr(e)
	if t == typeString || t == typeNumber {
		c.errorf(start(e), "expected a condition, found %s", describeValue(e, t))
	}
}

// expr checks e and returns its static type.
func (c *checker) expr(e Expr) valType {
	switch e := e.(type) {
	case *Literal:
		return litType(e)
	case *Field:
		c.field(e)
		return typeUnknown
	case *Not:
		c.cond(e.X, e.Pos)
		return typeBool
	case *Neg:
		c.numeric(e.X, c.expr(e.X), "-")
		return typeNumber
	case *Binary:
		switch e.Op {
		case OpAnd, OpOr:
			c.cond(e.Left, e.Pos)
			c.cond(e.Right, e.Pos)
			return typeBool
		case OpEq, OpNeq, OpLt, OpLte, OpGt, OpGte:
			c.compare(e)
			return typeBool
		case OpAdd, OpSub, OpMul, OpDiv, OpMod:
			c.numeric(e.Left, c.expr(e.Left), e.Op.String())
			c.numeric(e.Right, c.expr(e.Right), e.Op.String())
			return typeNumber
		}
		c.errorf(e.Pos, "unknown operator")
		return typeUnknown
	case *In:
		c.in(e)
		return typeBool
	case *Match:
		c.match(e)
		return typeBool
	case *Call:
		return c.call(e)
	case nil:
		c.errorf(0, "missing expression")
		return typeUnknown
	}
	c.errorf(e.Position(), "unknown expression")
	return typeUnknown
}

func litType(l *Literal) valType {
	switch l.Kind {
	case LitNull:
		return typeNull
	case LitString:
		return typeString
	case LitInt, LitFloat:
		return typeNumber
	case LitBool:
		return typeBool
	}
	return typeUnknown
}

// isCondition reports whether e is a boolean operator expression (as opposed
// to a value, a field or a function call).
func isCondition(e Expr) bool {
	switch e := e.(type) {
	case *Binary:
		switch e.Op {
		case OpAnd, OpOr, OpEq, OpNeq, OpLt, OpLte, OpGt, OpGte:
			return true
		}
	case *Not, *In, *Match:
		return true
	}
	return false
}

// isConstant reports whether e reads no field: Elasticsearch folds such
// expressions, and requires one side of every comparison to be one.
func isConstant(e Expr) bool {
	switch e := e.(type) {
	case *Literal:
		return true
	case *Neg:
		return isConstant(e.X)
	case *Not:
		return isConstant(e.X)
	case *Binary:
		return isConstant(e.Left) && isConstant(e.Right)
	case *In:
		if !isConstant(e.X) {
			return false
		}
		for _, x := range e.List {
			if !isConstant(x) {
				return false
			}
		}
		return true
	case *Match:
		return isConstant(e.X)
	case *Call:
		if _, ok := LookupFunc(e.Name); !ok {
			return false
		}
		for _, a := range e.Args {
			if !isConstant(a) {
				return false
			}
		}
		return true
	}
	return false
}

// start is the position of the first token of e (Binary.Pos is its operator).
func start(e Expr) Pos {
	for {
		switch x := e.(type) {
		case *Binary:
			e = x.Left
		case *In:
			e = x.X
		case *Match:
			e = x.X
		case nil:
			return 0
		default:
			return e.Position()
		}
		if e == nil {
			return 0
		}
	}
}

func describeValue(e Expr, t valType) string {
	if l, ok := e.(*Literal); ok {
		if l.Kind == LitNull {
			return "null"
		}
		return typeNames[t] + " " + FormatExpr(l)
	}
	if isCondition(e) {
		return "the condition " + FormatExpr(e)
	}
	if t == typeUnknown {
		return FormatExpr(e)
	}
	return typeNames[t] + " " + FormatExpr(e)
}

func (c *checker) numeric(x Expr, t valType, op string) {
	if x == nil {
		return
	}
	if isCondition(x) || t == typeString || t == typeBool {
		c.errorf(start(x), "%s needs numbers, found %s", op, describeValue(x, t))
	}
}

func known(t valType) bool { return t != typeUnknown && t != typeNull }

func (c *checker) compare(e *Binary) {
	lt, rt := c.expr(e.Left), c.expr(e.Right)
	if e.Left == nil || e.Right == nil {
		return
	}
	for _, x := range []Expr{e.Left, e.Right} {
		if isCondition(x) {
			c.errorf(start(x), "cannot compare the condition %s with %s; combine conditions with and, or, not",
				FormatExpr(x), e.Op)
			return
		}
	}
	lc, rc := isConstant(e.Left), isConstant(e.Right)
	if !lc && !rc {
		c.errorf(start(e.Right), "comparing a field with another field is not supported (%s %s %s): compare each with a constant",
			FormatExpr(e.Left), e.Op, FormatExpr(e.Right))
		return
	}
	if known(lt) && known(rt) && lt != rt {
		c.errorf(start(e.Right), "cannot compare %s with %s", describeValue(e.Left, lt), describeValue(e.Right, rt))
		return
	}
	if e.Op == OpEq || e.Op == OpNeq {
		if l, ok := e.Right.(*Literal); ok && !lc {
			c.deadWildcard(l, e.Op.String())
		}
		if l, ok := e.Left.(*Literal); ok && !rc {
			c.deadWildcard(l, e.Op.String())
		}
	}
}

// deadWildcard warns about `*` or `?` in a string compared for equality:
// Elasticsearch matches them literally, so `== "*.exe"` is almost always a
// clause that can never be true.
func (c *checker) deadWildcard(l *Literal, op string) {
	if l.Kind != LitString {
		return
	}
	i := strings.IndexAny(l.Str, "*?")
	if i < 0 || uncAnyShare(l.Str) {
		return
	}
	c.warnf(l.Pos, "`%c` in %s is a literal character, not a wildcard; use : or like for wildcards", l.Str[i], deadOps[op])
}

// uncAnyShare reports whether s is a Windows share path whose server part is
// a literal `*` (`\\*\IPC$`): Windows security events (5140, 5145) write
// share names that way, so the `*` is meant literally.
func uncAnyShare(s string) bool {
	rest, ok := strings.CutPrefix(s, `\\*\`)
	return ok && !strings.ContainsAny(rest, "*?")
}

var deadOps = map[string]string{
	"==": "==", "!=": "!=",
	"in": "an in list", "in~": "an in~ list", "not in": "a not in list", "not in~": "a not in~ list",
}

func (c *checker) in(e *In) {
	xt := c.expr(e.X)
	op := "in"
	if e.Negated {
		op = "not in"
	}
	if e.CaseInsensitive {
		op += "~"
	}
	if e.X != nil && isCondition(e.X) {
		c.errorf(start(e.X), "%s needs a value on its left, found the condition %s", op, FormatExpr(e.X))
		return
	}
	xc := e.X != nil && isConstant(e.X)
	if len(e.List) == 0 {
		c.errorf(e.Pos, "%s needs at least one value", op)
	}
	for _, v := range e.List {
		t := c.expr(v)
		switch {
		case v == nil:
		case isCondition(v):
			c.errorf(start(v), "%s needs values, found the condition %s", op, FormatExpr(v))
		case !isConstant(v):
			c.errorf(start(v), "comparing a field with another field is not supported (%s in a list): the values must be constants",
				FormatExpr(v))
		case known(xt) && known(t) && xt != t:
			c.errorf(start(v), "cannot compare %s with %s", describeValue(e.X, xt), describeValue(v, t))
		case !xc:
			if l, ok := v.(*Literal); ok {
				c.deadWildcard(l, op)
			}
		}
	}
}

var matchOps = [...]string{MatchSeq: ":", MatchLike: "like", MatchRegex: "regex"}

func (c *checker) match(e *Match) {
	op := "match"
	if int(e.Kind) < len(matchOps) {
		op = matchOps[e.Kind]
	}
	if e.CaseInsensitive && e.Kind != MatchSeq {
		op += "~"
	}
	xt := c.expr(e.X)
	if e.X != nil && (isCondition(e.X) || xt == typeNumber || xt == typeBool) {
		c.errorf(start(e.X), "%s works on strings only, found %s", op, describeValue(e.X, xt))
	}
	if len(e.Patterns) == 0 {
		c.errorf(e.Pos, "%s needs at least one pattern", op)
	}
	for _, p := range e.Patterns {
		if p == nil || p.Kind != LitString {
			at := e.Pos
			if p != nil {
				at = p.Pos
			}
			c.errorf(at, "%s needs string patterns", op)
		}
	}
}

func (c *checker) call(e *Call) valType {
	types := make([]valType, len(e.Args))
	for i, a := range e.Args {
		types[i] = c.expr(a)
	}
	spec, ok := funcs[strings.ToLower(e.Name)]
	if !ok {
		msg := "unknown function " + e.Name
		if s := suggestFunc(e.Name); s != "" {
			msg += "; did you mean " + s + "?"
		}
		c.errorf(e.Pos, "%s", msg)
		return typeUnknown
	}
	if e.CaseInsensitive && !spec.CaseInsensitive {
		c.errorf(e.Pos, "%s has no case-insensitive variant: remove the ~", spec.Name)
	}
	n := len(e.Args)
	switch {
	case n < spec.MinArgs:
		at := e.EndPos
		if at < e.Pos {
			at = e.Pos
		}
		c.errorf(at, "%s takes %s, found %d", spec.Name, arity(spec.FuncInfo), n)
		return spec.result
	case spec.MaxArgs >= 0 && n > spec.MaxArgs:
		c.errorf(start(e.Args[spec.MaxArgs]), "%s takes %s, found %d", spec.Name, arity(spec.FuncInfo), n)
		return spec.result
	}
	for i, a := range e.Args {
		if a != nil {
			c.arg(spec, i, a, types[i])
		}
	}
	return spec.result
}

func arity(f FuncInfo) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return strconv.Itoa(n) + " arguments"
	}
	switch {
	case f.MaxArgs < 0:
		return "at least " + plural(f.MinArgs)
	case f.MinArgs == f.MaxArgs:
		return plural(f.MinArgs)
	case f.MaxArgs == f.MinArgs+1:
		return strconv.Itoa(f.MinArgs) + " or " + plural(f.MaxArgs)
	default:
		return strconv.Itoa(f.MinArgs) + " to " + plural(f.MaxArgs)
	}
}

func (c *checker) arg(spec *funcSpec, i int, a Expr, t valType) {
	kind := spec.arg(i)
	bad := func(want string) {
		c.errorf(start(a), "argument %d of %s must be %s, found %s", i+1, spec.Name, want, describeValue(a, t))
	}
	if kind == argAny {
		return
	}
	if isCondition(a) && kind != argBool {
		bad(kindNames[kind])
		return
	}
	switch kind {
	case argString:
		if t == typeNumber || t == typeBool {
			bad("a string")
		}
	case argNumber:
		if t == typeString || t == typeBool {
			bad("a number")
		}
	case argInteger:
		if l, ok := a.(*Literal); (ok && l.Kind == LitFloat) || t == typeString || t == typeBool {
			bad("an integer")
		}
	case argBool:
		if t == typeString || t == typeNumber {
			bad("a boolean")
		}
	case argIP:
		if t == typeNumber || t == typeBool {
			bad("an IP address")
		} else if l, ok := a.(*Literal); ok && l.Kind == LitString {
			if ip, err := netip.ParseAddr(l.Str); err != nil || ip.Zone() != "" {
				c.errorf(l.Pos, "argument %d of %s is not an IP address: %s", i+1, spec.Name, FormatExpr(l))
			}
		}
	case argCIDR:
		l, ok := a.(*Literal)
		switch {
		case !ok && !isConstant(a):
			bad("a constant string such as \"10.0.0.0/8\"")
		case !ok:
			if t == typeNumber || t == typeBool {
				bad("a string such as \"10.0.0.0/8\"")
			}
		case l.Kind == LitNull:
		case l.Kind != LitString:
			bad("a string such as \"10.0.0.0/8\"")
		case !validCIDR(l.Str):
			c.errorf(l.Pos, "argument %d of %s is not a CIDR block or IP address: %s", i+1, spec.Name, FormatExpr(l))
		}
	case argRadix:
		l, ok := a.(*Literal)
		switch {
		case !ok:
			bad("an integer literal")
		case l.Kind == LitNull:
		case l.Kind != LitInt:
			bad("an integer")
		case l.Int < 2 || l.Int > 36:
			c.errorf(l.Pos, "argument %d of %s must be a base between 2 and 36, found %d", i+1, spec.Name, l.Int)
		}
	}
}

var kindNames = [...]string{
	argAny: "a value", argString: "a string", argNumber: "a number", argInteger: "an integer",
	argBool: "a boolean", argIP: "an IP address", argCIDR: "a CIDR block", argRadix: "an integer",
}

// validCIDR accepts what Elasticsearch's cidrMatch accepts: a CIDR block
// (IPv4 or IPv6, any hex case) or a single address.
func validCIDR(s string) bool {
	if strings.Contains(s, "/") {
		_, err := netip.ParsePrefix(s)
		return err == nil
	}
	ip, err := netip.ParseAddr(s)
	return err == nil && ip.Zone() == ""
}

// suggestFunc returns the known function closest to name, if close enough to
// be a typo.
func suggestFunc(name string) string {
	const limit = 3 // suggest names at most 2 edits away
	lname := strings.ToLower(name)
	best, bestD := "", limit
	for k, s := range funcs {
		d := editDistance(lname, k, limit)
		if d < bestD || (d == bestD && d < limit && s.Name < best) {
			best, bestD = s.Name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it is at
// least limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}
