package engine

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
)

type predFn func(c *ctx) bool
type valFn func(c *ctx) Value

// compiler turns checked AST expressions into closures over slots.
type compiler struct {
	sch   *schema
	src   *eql.Source
	memos *memoTable        // shared by the rules of a program; nil: no memoization
	types *fieldtype.Schema // nil: untyped (typed.go)
	warns eql.Errors        // comparisons the field's type makes never true
}

// memoTable numbers the distinct conditions of a program's rules.
type memoTable struct {
	ids map[string]int
	fns map[string]predFn
}

func newMemoTable() *memoTable {
	return &memoTable{ids: map[string]int{}, fns: map[string]predFn{}}
}

// memo evaluates the condition e, compiled to p, at most once per event.
// Detection rules repeat the same conditions (host.os.type == "linux",
// event.action in (...), lists of shells), and the candidate stages of one
// event share them. Conditions are keyed by their formatted source, so equal
// conditions of different rules share one slot and one closure. Inside a
// multi-value binding (anyOver) the memo is bypassed: a condition there may
// read the bound value.
func (cp *compiler) memo(e eql.Expr, p predFn) predFn {
	if cp.memos == nil {
		return p
	}
	key := eql.FormatExpr(e)
	if f, ok := cp.memos.fns[key]; ok {
		return f
	}
	k := len(cp.memos.ids)
	cp.memos.ids[key] = k
	f := func(c *ctx) bool {
		if c.boundSlot >= 0 {
			return p(c)
		}
		m := &c.memo[k]
		if *m>>1 == c.gen {
			return *m&1 != 0
		}
		r := p(c)
		*m = c.gen << 1
		if r {
			*m |= 1
		}
		return r
	}
	cp.memos.fns[key] = f
	return f
}

// pred compiles a condition; comparisons, `in`, pattern matches and
// function calls are memoized per event.
func (cp *compiler) pred(e eql.Expr) predFn {
	switch x := e.(type) {
	case *eql.In, *eql.Match, *eql.Call:
		return cp.memo(e, cp.predOf(e))
	case *eql.Binary:
		switch x.Op {
		case eql.OpEq, eql.OpNeq, eql.OpLt, eql.OpLte, eql.OpGt, eql.OpGte:
			return cp.memo(e, cp.predOf(e))
		}
	}
	return cp.predOf(e)
}

type compileErr struct{ e *eql.Error }

func (cp *compiler) fail(p eql.Pos, format string, args ...any) {
	panic(compileErr{&eql.Error{Src: cp.src, Pos: p, Msg: fmt.Sprintf(format, args...)}})
}

func (cp *compiler) predOf(e eql.Expr) predFn {
	switch x := e.(type) {
	case *eql.Binary:
		switch x.Op {
		case eql.OpAnd:
			return cp.and(flatten(x, eql.OpAnd))
		case eql.OpOr:
			return cp.or(flatten(x, eql.OpOr))
		case eql.OpEq, eql.OpNeq, eql.OpLt, eql.OpLte, eql.OpGt, eql.OpGte:
			return cp.comparison(x)
		}
		cp.fail(x.Pos, "arithmetic %s is not a condition", x.Op)
	case *eql.Not:
		p := cp.pred(x.X)
		return func(c *ctx) bool { return !p(c) }
	case *eql.In:
		p := cp.in(x)
		if x.Negated {
			return func(c *ctx) bool { return !p(c) }
		}
		return p
	case *eql.Match:
		return cp.match(x)
	case *eql.Call:
		if p := cp.fastCall(x); p != nil {
			return p
		}
		v := cp.value(x)
		return cp.anyOver(x, func(c *ctx) bool {
			r := v(c)
			return r.Kind == KindBool && r.Bool
		})
	case *eql.Literal:
		if x.Kind == eql.LitBool {
			b := x.Bool
			return func(*ctx) bool { return b }
		}
		cp.fail(x.Pos, "a constant is not a condition")
	case *eql.Field:
		slot := cp.slot(x)
		return func(c *ctx) bool {
			return c.ev.anyValue(slot, func(v Value) bool { return v.Kind == KindBool && v.Bool })
		}
	}
	cp.fail(e.Position(), "expression is not a condition")
	return nil
}

func flatten(b *eql.Binary, op eql.Op) []eql.Expr {
	var out []eql.Expr
	var walk func(e eql.Expr)
	walk = func(e eql.Expr) {
		if x, ok := e.(*eql.Binary); ok && x.Op == op {
			walk(x.Left)
			walk(x.Right)
			return
		}
		out = append(out, e)
	}
	walk(b)
	return out
}

func (cp *compiler) and(es []eql.Expr) predFn {
	ps := make([]predFn, len(es))
	for i, e := range es {
		ps[i] = cp.pred(e)
	}
	if len(ps) == 2 {
		a, b := ps[0], ps[1]
		return func(c *ctx) bool { return a(c) && b(c) }
	}
	return func(c *ctx) bool {
		for _, p := range ps {
			if !p(c) {
				return false
			}
		}
		return true
	}
}

func (cp *compiler) or(es []eql.Expr) predFn {
	ps := make([]predFn, len(es))
	for i, e := range es {
		ps[i] = cp.pred(e)
	}
	if len(ps) == 2 {
		a, b := ps[0], ps[1]
		return func(c *ctx) bool { return a(c) || b(c) }
	}
	return func(c *ctx) bool {
		for _, p := range ps {
			if p(c) {
				return true
			}
		}
		return false
	}
}

func (cp *compiler) slot(f *eql.Field) int {
	if len(f.Index) > 0 {
		cp.fail(f.Pos, "array subscripts are not supported")
	}
	return cp.sch.slot(f.Name())
}

// firstField returns the slot of the first field in e, or -1.
func (cp *compiler) firstField(e eql.Expr) int {
	switch x := e.(type) {
	case *eql.Field:
		return cp.slot(x)
	case *eql.Binary:
		if s := cp.firstField(x.Left); s >= 0 {
			return s
		}
		return cp.firstField(x.Right)
	case *eql.Neg:
		return cp.firstField(x.X)
	case *eql.Call:
		for _, a := range x.Args {
			if s := cp.firstField(a); s >= 0 {
				return s
			}
		}
	}
	return -1
}

// anyOver evaluates p once per value of the first field in e (Elasticsearch
// matches a multi-valued field when any value satisfies the condition).
func (cp *compiler) anyOver(e eql.Expr, p predFn) predFn {
	slot := cp.firstField(e)
	if slot < 0 {
		return p
	}
	return func(c *ctx) bool {
		ev := c.ev
		h := ev.slots[slot].head
		if h == 0 || ev.vals[h-1].next == 0 {
			return p(c)
		}
		for i := h; i != 0; i = ev.vals[i-1].next {
			c.boundSlot, c.boundVal = slot, ev.vals[i-1].v
			if p(c) {
				c.boundSlot = -1
				return true
			}
		}
		c.boundSlot = -1
		return false
	}
}

func litValue(l *eql.Literal) Value {
	switch l.Kind {
	case eql.LitString:
		return Value{Kind: KindString, Str: []byte(l.Str)}
	case eql.LitInt:
		return Value{Kind: KindNumber, Num: float64(l.Int), Str: []byte(fmt.Sprint(l.Int))}
	case eql.LitFloat:
		// Str marks the literal as a float, so division does not truncate
		txt := strconv.FormatFloat(l.Float, 'f', -1, 64)
		if !strings.ContainsAny(txt, ".eE") {
			txt += ".0"
		}
		return Value{Kind: KindNumber, Num: l.Float, Str: []byte(txt)}
	case eql.LitBool:
		return Value{Kind: KindBool, Bool: l.Bool}
	}
	return Value{}
}

func cmpResult(op eql.Op, r int) bool {
	switch op {
	case eql.OpEq:
		return r == 0
	case eql.OpNeq:
		return r != 0
	case eql.OpLt:
		return r < 0
	case eql.OpLte:
		return r <= 0
	case eql.OpGt:
		return r > 0
	}
	return r >= 0
}

func flip(op eql.Op) eql.Op {
	switch op {
	case eql.OpLt:
		return eql.OpGt
	case eql.OpLte:
		return eql.OpGte
	case eql.OpGt:
		return eql.OpLt
	case eql.OpGte:
		return eql.OpLte
	}
	return op
}

func (cp *compiler) comparison(x *eql.Binary) predFn {
	left, right, op := x.Left, x.Right, x.Op
	if _, ok := left.(*eql.Literal); ok {
		left, right, op = right, left, flip(op)
	}
	lit, isLit := right.(*eql.Literal)
	if isLit && lit.Kind == eql.LitNull {
		if op != eql.OpEq && op != eql.OpNeq {
			cp.fail(x.Pos, "null can only be compared with == or !=")
		}
		if f, ok := left.(*eql.Field); ok {
			slot := cp.slot(f)
			if op == eql.OpEq {
				return func(c *ctx) bool { return !c.ev.exists(slot) }
			}
			return func(c *ctx) bool { return c.ev.exists(slot) }
		}
		v := cp.value(left)
		if op == eql.OpEq {
			return func(c *ctx) bool { return v(c).Kind == KindNull }
		}
		return func(c *ctx) bool { return v(c).Kind != KindNull }
	}
	if _, isField := left.(*eql.Field); op == eql.OpNeq && isField {
		// On a field, a negation matches when no value satisfies the
		// positive form (Elasticsearch compiles it to must_not), which
		// includes a missing field.
		eq := cp.comparison(&eql.Binary{Pos: x.Pos, Op: eql.OpEq, Left: left, Right: right})
		return func(c *ctx) bool { return !eq(c) }
	}
	if f, ok := left.(*eql.Field); ok && isLit {
		if tf, ok := cp.typed(f); ok {
			return cp.typedComparison(f, tf, lit, op)
		}
		slot := cp.slot(f)
		lv := litValue(lit)
		if op == eql.OpEq && lit.Kind == eql.LitString {
			want := lv.Str
			wantNum, wantIsNum := numOf(lv)
			wantIP, wantIsIP := parseIP(want)
			return func(c *ctx) bool {
				ev := c.ev
				for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
					v := &ev.vals[i-1].v
					switch v.Kind {
					case KindString:
						if bytes.Equal(v.Str, want) {
							return true
						}
						if wantIsIP && len(v.Str) > 0 && (v.Str[0] == ':' || bytes.IndexByte(v.Str, ':') >= 0) {
							if a, ok := parseIP(v.Str); ok && a == wantIP {
								return true
							}
						}
					case KindNumber:
						if wantIsNum && v.Num == wantNum {
							return true
						}
					case KindBool:
						if bytes.Equal(want, []byte("true")) == v.Bool && (v.Bool || bytes.Equal(want, []byte("false"))) {
							return true
						}
					}
				}
				return false
			}
		}
		return func(c *ctx) bool {
			ev := c.ev
			for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
				if r, ok := compare(c, ev.vals[i-1].v, lv); ok && cmpResult(op, r) {
					return true
				}
			}
			return false
		}
	}
	if _, ok := left.(*eql.Field); ok {
		if _, ok := right.(*eql.Field); ok {
			cp.fail(x.Pos, "comparing two fields is not supported by Elasticsearch EQL")
		}
	}
	l, r := cp.value(left), cp.value(right)
	return cp.anyOver(x, func(c *ctx) bool {
		res, ok := compare(c, l(c), r(c))
		return ok && cmpResult(op, res)
	})
}

// strSet is a set of constant strings and numbers for `in`.
type strSet struct {
	strs map[string]struct{}
	nums map[float64]struct{}
	fold bool
	tab  *strTable[struct{}] // strs, for the lookups of each event
}

func (cp *compiler) in(x *eql.In) predFn {
	if f, ok := x.X.(*eql.Field); ok {
		if tf, ok := cp.typed(f); ok {
			if p, ok := cp.typedIn(f, tf, x.List); ok {
				return p
			}
		}
	}
	set := &strSet{strs: map[string]struct{}{}, nums: map[float64]struct{}{}, fold: x.CaseInsensitive}
	var dyn []valFn
	hasNull := false
	for _, e := range x.List {
		l, ok := e.(*eql.Literal)
		if !ok {
			if _, isField := e.(*eql.Field); isField {
				cp.fail(e.Position(), "comparing two fields is not supported by Elasticsearch EQL")
			}
			dyn = append(dyn, cp.value(e))
			continue
		}
		switch l.Kind {
		case eql.LitString:
			s := l.Str
			if set.fold {
				s = lowerString(s)
			}
			set.strs[s] = struct{}{}
			if f, ok := numOf(Value{Kind: KindString, Str: []byte(l.Str)}); ok {
				set.nums[f] = struct{}{}
			}
		case eql.LitInt, eql.LitFloat:
			v := litValue(l)
			set.nums[v.Num] = struct{}{}
			set.strs[string(appendNum(nil, v.Num))] = struct{}{}
		case eql.LitBool:
			set.strs[fmt.Sprint(l.Bool)] = struct{}{}
		case eql.LitNull:
			hasNull = true
		}
	}
	set.tab = newStrTable(set.strs)
	// member tests one value; i is its index in ev.vals, or -1 for a
	// computed value.
	member := func(c *ctx, v *Value, i int32) bool {
		switch v.Kind {
		case KindString:
			s := v.Str
			if set.fold {
				if i >= 0 {
					s = c.lowerVal(i, s)
				} else {
					s = c.lower(s)
				}
			}
			if set.tab.has(s) {
				return true
			}
			if len(set.nums) > 0 {
				if f, ok := numOf(*v); ok {
					_, ok := set.nums[f]
					return ok
				}
			}
		case KindNumber:
			_, ok := set.nums[v.Num]
			return ok
		case KindBool:
			if v.Bool {
				return set.tab.has([]byte("true"))
			}
			return set.tab.has([]byte("false"))
		}
		for _, d := range dyn {
			if r, ok := compare(c, *v, d(c)); ok && r == 0 {
				return true
			}
		}
		return false
	}
	if f, ok := x.X.(*eql.Field); ok {
		slot := cp.slot(f)
		return func(c *ctx) bool {
			ev := c.ev
			if hasNull && !ev.exists(slot) {
				return true
			}
			for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
				if member(c, &ev.vals[i-1].v, i-1) {
					return true
				}
			}
			return false
		}
	}
	v := cp.value(x.X)
	return cp.anyOver(x.X, func(c *ctx) bool {
		r := v(c)
		if r.Kind == KindNull {
			return hasNull
		}
		return member(c, &r, -1)
	})
}

type patMatcher struct {
	wcs  []wildcard
	res  []*regexp.Regexp
	pre  []regexPrefilter // per regex: cheap checks that reject most strings
	fold bool
	// exact holds the literal patterns of a `:`/like list without wildcards.
	exact    map[string]struct{}
	exactTab *strTable[struct{}]
}

func (m *patMatcher) matches(c *ctx, s []byte) bool {
	if m.fold && m.res == nil {
		s = c.lower(s)
	}
	return m.match(s)
}

// matchVal is matches for the event value at index i of ev.vals.
func (m *patMatcher) matchVal(c *ctx, i int32, s []byte) bool {
	if m.fold && m.res == nil {
		s = c.lowerVal(i, s)
	}
	return m.match(s)
}

// match tests s, lower-cased already when the (wildcard) patterns fold.
func (m *patMatcher) match(s []byte) bool {
	if m.exactTab.has(s) {
		return true
	}
	for i := range m.wcs {
		if m.wcs[i].match(s) {
			return true
		}
	}
	for i, re := range m.res {
		if m.pre[i].may(s) && re.Match(s) {
			return true
		}
	}
	return false
}

func (cp *compiler) patterns(x *eql.Match) *patMatcher {
	m := &patMatcher{fold: x.CaseInsensitive}
	for _, l := range x.Patterns {
		if x.Kind == eql.MatchRegex {
			re, err := luceneToRE2(l.Str, x.CaseInsensitive)
			if err != nil {
				cp.fail(l.Pos, "invalid regular expression: %v", err)
			}
			m.res = append(m.res, re)
			m.pre = append(m.pre, newRegexPrefilter(re.String()))
			continue
		}
		w := compileWildcard(l.Str, x.CaseInsensitive)
		if w.kind == wcExact && len(x.Patterns) > 4 {
			if m.exact == nil {
				m.exact = map[string]struct{}{}
			}
			m.exact[string(w.lit)] = struct{}{}
			continue
		}
		m.wcs = append(m.wcs, w)
	}
	if m.exact != nil {
		m.exactTab = newStrTable(m.exact)
	}
	return m
}

func (cp *compiler) match(x *eql.Match) predFn {
	m := cp.patterns(x)
	if f, ok := x.X.(*eql.Field); ok {
		slot := cp.slot(f)
		return func(c *ctx) bool {
			ev := c.ev
			for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
				v := &ev.vals[i-1].v
				if (v.Kind == KindString || v.Kind == KindNumber) && m.matchVal(c, i-1, v.Str) {
					return true
				}
			}
			return false
		}
	}
	v := cp.value(x.X)
	return cp.anyOver(x.X, func(c *ctx) bool {
		r := v(c)
		if r.Kind == KindNull || r.Kind == KindObject {
			return false
		}
		return m.matches(c, c.str(r))
	})
}

// fastCall specialises the boolean string functions and cidrMatch when the
// first argument is a field and the rest are constants.
func (cp *compiler) fastCall(x *eql.Call) predFn {
	info, ok := eql.LookupFunc(x.Name)
	if !ok {
		cp.fail(x.Pos, "unknown function %s", x.Name)
	}
	if len(x.Args) == 0 {
		return nil
	}
	f, ok := x.Args[0].(*eql.Field)
	if !ok {
		return nil
	}
	var lits []*eql.Literal
	for _, a := range x.Args[1:] {
		l, ok := a.(*eql.Literal)
		if !ok || l.Kind != eql.LitString {
			return nil
		}
		lits = append(lits, l)
	}
	slot := cp.slot(f)
	switch info.Name {
	case "cidrMatch":
		var pfx []netip.Prefix
		for _, l := range lits {
			p, err := parseCIDR(l.Str)
			if err != nil {
				cp.fail(l.Pos, "invalid CIDR %q: %v", l.Str, err)
			}
			pfx = append(pfx, p)
		}
		return func(c *ctx) bool {
			ev := c.ev
			for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
				v := &ev.vals[i-1].v
				if v.Kind != KindString {
					continue
				}
				a, ok := parseIP(v.Str)
				if !ok {
					continue
				}
				for _, p := range pfx {
					if p.Contains(a) {
						return true
					}
				}
			}
			return false
		}
	case "startsWith", "endsWith", "stringContains":
		if len(lits) != 1 {
			return nil
		}
		pat := lits[0].Str
		switch info.Name {
		case "startsWith":
			pat += "*"
		case "endsWith":
			pat = "*" + pat
		default:
			pat = "*" + pat + "*"
		}
		if strings.ContainsAny(lits[0].Str, "*?") {
			return nil
		}
		w := compileWildcard(pat, x.CaseInsensitive)
		if lits[0].Str == "" {
			w = wildcard{kind: wcAny}
		}
		m := &patMatcher{wcs: []wildcard{w}, fold: x.CaseInsensitive}
		return func(c *ctx) bool {
			ev := c.ev
			for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
				v := &ev.vals[i-1].v
				if v.Kind == KindString && m.matchVal(c, i-1, v.Str) {
					return true
				}
			}
			return false
		}
	}
	return nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') < 0 {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// value compiles a value expression.
func (cp *compiler) value(e eql.Expr) valFn {
	switch x := e.(type) {
	case *eql.Literal:
		v := litValue(x)
		return func(*ctx) Value { return v }
	case *eql.Field:
		slot := cp.slot(x)
		return func(c *ctx) Value { return c.field(slot) }
	case *eql.Neg:
		v := cp.value(x.X)
		return func(c *ctx) Value {
			n, ok := numOf(v(c))
			if !ok {
				return Value{}
			}
			return Value{Kind: KindNumber, Num: -n}
		}
	case *eql.Binary:
		switch x.Op {
		case eql.OpAdd, eql.OpSub, eql.OpMul, eql.OpDiv, eql.OpMod:
			return arith(x.Op, cp.value(x.Left), cp.value(x.Right))
		}
		p := cp.pred(x)
		return func(c *ctx) Value { return Value{Kind: KindBool, Bool: p(c)} }
	case *eql.Call:
		return cp.call(x)
	case *eql.Not, *eql.In, *eql.Match:
		p := cp.pred(x)
		return func(c *ctx) Value { return Value{Kind: KindBool, Bool: p(c)} }
	}
	cp.fail(e.Position(), "unsupported expression")
	return nil
}

func arith(op eql.Op, l, r valFn) valFn {
	return func(c *ctx) Value {
		a, b := l(c), r(c)
		x, ok1 := numOf(a)
		y, ok2 := numOf(b)
		if !ok1 || !ok2 {
			return Value{}
		}
		ints := isIntegral(a) && isIntegral(b)
		var z float64
		switch op {
		case eql.OpAdd:
			z = x + y
		case eql.OpSub:
			z = x - y
		case eql.OpMul:
			z = x * y
		case eql.OpDiv:
			if y == 0 {
				return Value{}
			}
			z = x / y
			if ints {
				z = math.Trunc(z)
			}
		case eql.OpMod:
			if y == 0 {
				return Value{}
			}
			z = math.Mod(x, y)
		}
		if ints {
			return Value{Kind: KindNumber, Num: z, Str: nil}
		}
		return Value{Kind: KindNumber, Num: z}
	}
}
