package engine

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
)

// Typed comparisons. When Options.Types gives a field a type whose
// comparisons Elasticsearch does not make on the bytes of the value, the
// compiler resolves `field OP literal` and `field in (literals)` to a
// comparison of typed values, once, at compile time; every other field
// keeps the untyped path (compile.go), so rules over keyword fields run
// exactly as before. What each type does, as Elasticsearch's field mappers
// do it:
//
//   - date, date_nanos (DateFieldMapper): a term query is a range query
//     from the literal to the literal rounded up, so `== "2026-03-01"`
//     matches the whole day and `== "2026-03-01T10:00:05Z"` the whole
//     second; `<` and `>=` take the literal rounded down, `<=` and `>` rounded
//     up (DateFieldType.rangeQuery with JavaDateMathParser's round-up
//     formatter). Literals and string values are read with the field's
//     format (default strict_date_optional_time||epoch_millis), numbers as
//     epoch milliseconds; values are truncated to the field's resolution.
//   - ip (IpFieldMapper): values compare as 16-byte addresses, IPv4 as
//     IPv4-mapped IPv6 (so "::ffff:10.0.0.1" equals "10.0.0.1"); a literal
//     with a "/" in == or in is a CIDR block (termQuery's prefix query).
//   - long, integer, short, byte, unsigned_long: a string value is parsed as
//     a number and a fraction truncated (coerce); a literal with a fraction
//     never equals (NumberType.LONG.termQuery's match-none).
//   - float (and half_float, approximated by float), double: float values
//     compare at float precision on both sides.
//   - scaled_float: values are stored as round(value × scaling_factor); ==
//     compares the rounded literal.
//   - boolean: true/false and the strings "true"/"false" ("" is false).
//   - version: == on the whole string; ordering by fieldtype.CompareVersions.
//
// A literal the type cannot read (a non-IP string against an ip field, text
// against a number, an unparseable date) makes Elasticsearch reject the
// query; here the comparison is never true (so != always is) and the rule
// carries a warning
// ("literal the field's type cannot read"), which `processor check` reports.

// tval is a typed value: the fields used depend on the type.
type tval struct {
	t   fieldtype.Instant // dates
	a   [16]byte          // ip
	num float64           // numbers
	s   string            // version
	b   bool              // boolean
}

type typedField struct {
	f      *fieldtype.Field
	format fieldtype.DateFormat
}

// semanticType reports whether t compares differently from the untyped path.
func semanticType(t fieldtype.Type) bool {
	return t.IsDate() || t == fieldtype.IP || t.Numeric() || t == fieldtype.Boolean || t == fieldtype.Version
}

// typed returns the type information of f when it changes comparisons.
func (cp *compiler) typed(f *eql.Field) (*typedField, bool) {
	if cp.types == nil || len(f.Index) > 0 {
		return nil, false
	}
	ft, ok := cp.types.Lookup(f.Name())
	if !ok || !semanticType(ft.Type) {
		return nil, false
	}
	tf := &typedField{f: ft}
	if ft.Type.IsDate() {
		tf.format, _ = fieldtype.DateFormatOf(ft.Format)
	}
	cp.sch.typedName(f.Name())
	return tf, true
}

// cmp orders two typed values of the field's type.
func (tf *typedField) cmp(x, y *tval) int {
	switch t := tf.f.Type; {
	case t.IsDate():
		return x.t.Compare(y.t)
	case t == fieldtype.IP:
		return bytes.Compare(x.a[:], y.a[:])
	case t == fieldtype.Boolean:
		switch {
		case x.b == y.b:
			return 0
		case !x.b:
			return -1
		}
		return 1
	case t == fieldtype.Version:
		return fieldtype.CompareVersions(x.s, y.s)
	}
	switch {
	case x.num < y.num:
		return -1
	case x.num > y.num:
		return 1
	}
	return 0
}

// event converts an event value as the field's mapper indexes it.
func (tf *typedField) event(v *Value) (tval, bool) {
	var out tval
	switch t := tf.f.Type; {
	case t.IsDate():
		var ok bool
		switch v.Kind {
		case KindString:
			out.t, ok = tf.format.Parse(bstr(v.Str), false)
		case KindNumber:
			out.t, ok = tf.format.FromNumber(v.Num)
		}
		out.t = out.t.Truncate(t)
		return out, ok
	case t == fieldtype.IP:
		if v.Kind != KindString {
			return out, false
		}
		a, err := netip.ParseAddr(bstr(v.Str))
		if err != nil || a.Zone() != "" {
			return out, false
		}
		out.a = a.As16()
		return out, true
	case t == fieldtype.Boolean:
		switch v.Kind {
		case KindBool:
			out.b = v.Bool
			return out, true
		case KindString:
			switch bstr(v.Str) {
			case "true":
				out.b = true
				return out, true
			case "false", "":
				return out, true
			}
		}
		return out, false
	case t == fieldtype.Version:
		if v.Kind != KindString {
			return out, false
		}
		out.s = string(v.Str)
		return out, true
	}
	var n float64
	switch v.Kind {
	case KindNumber:
		n = v.Num
	case KindString:
		f, err := strconv.ParseFloat(bstr(bytes.TrimSpace(v.Str)), 64)
		if err != nil {
			return out, false
		}
		n = f
	default:
		return out, false
	}
	out.num = tf.storeNum(n)
	return out, true
}

// storeNum is a number as the field stores it.
func (tf *typedField) storeNum(n float64) float64 {
	switch tf.f.Type {
	case fieldtype.Long, fieldtype.Integer, fieldtype.Short, fieldtype.Byte, fieldtype.UnsignedLong:
		return math.Trunc(n)
	case fieldtype.Float, fieldtype.HalfFloat:
		return float64(float32(n))
	case fieldtype.ScaledFloat:
		return math.Round(n * tf.f.ScalingFactor)
	}
	return n
}

// literal converts a query literal to the bounds a comparison uses: lo for
// `==` (with hi), `>=`, `<`; hi for `==`, `<=`, `>`. prefix is set for an ip
// CIDR literal. ok=false: the type cannot read the literal (why says so).
func (tf *typedField) literal(l *eql.Literal, eq bool) (lo, hi tval, prefix netip.Prefix, why string) {
	t := tf.f.Type
	switch {
	case t.IsDate():
		switch l.Kind {
		case eql.LitString:
			a, ok1 := tf.format.Parse(l.Str, false)
			b, ok2 := tf.format.Parse(l.Str, true)
			if !ok1 || !ok2 {
				return lo, hi, prefix, fmt.Sprintf("%q is not a date in the field's format", l.Str)
			}
			lo.t, hi.t = a.Truncate(t), b.Truncate(t)
		case eql.LitInt, eql.LitFloat:
			a, ok := tf.format.FromNumber(litValue(l).Num)
			if !ok {
				return lo, hi, prefix, "the number is not a date"
			}
			lo.t = a.Truncate(t)
			hi = lo
		default:
			return lo, hi, prefix, fmt.Sprintf("%s is not a date", eql.FormatExpr(l))
		}
		return lo, hi, prefix, ""
	case t == fieldtype.IP:
		if l.Kind != eql.LitString {
			return lo, hi, prefix, fmt.Sprintf("%s is not an IP address", eql.FormatExpr(l))
		}
		if eq && strings.Contains(l.Str, "/") {
			p, err := parseCIDR(l.Str)
			if err != nil {
				return lo, hi, prefix, fmt.Sprintf("%q is not an IP address or CIDR block", l.Str)
			}
			return lo, hi, p, ""
		}
		a, err := netip.ParseAddr(l.Str)
		if err != nil || a.Zone() != "" {
			return lo, hi, prefix, fmt.Sprintf("%q is not an IP address", l.Str)
		}
		lo.a = a.As16()
		return lo, lo, prefix, ""
	case t == fieldtype.Boolean:
		v := Value{Kind: KindBool, Bool: l.Bool}
		if l.Kind == eql.LitString {
			v = Value{Kind: KindString, Str: []byte(l.Str)}
		} else if l.Kind != eql.LitBool {
			return lo, hi, prefix, fmt.Sprintf("%s is not a boolean", eql.FormatExpr(l))
		}
		b, ok := tf.event(&v)
		if !ok {
			return lo, hi, prefix, fmt.Sprintf("%q is not a boolean", l.Str)
		}
		return b, b, prefix, ""
	case t == fieldtype.Version:
		if l.Kind != eql.LitString {
			return lo, hi, prefix, fmt.Sprintf("%s is not a version string", eql.FormatExpr(l))
		}
		lo.s = l.Str
		return lo, lo, prefix, ""
	}
	var n float64
	switch l.Kind {
	case eql.LitInt, eql.LitFloat:
		n = litValue(l).Num
	case eql.LitString:
		f, err := strconv.ParseFloat(strings.TrimSpace(l.Str), 64)
		if err != nil {
			return lo, hi, prefix, fmt.Sprintf("%q is not a number", l.Str)
		}
		n = f
	default:
		return lo, hi, prefix, fmt.Sprintf("%s is not a number", eql.FormatExpr(l))
	}
	switch t {
	case fieldtype.Float, fieldtype.HalfFloat:
		n = float64(float32(n))
	case fieldtype.ScaledFloat:
		n *= tf.f.ScalingFactor
		if eq {
			n = math.Round(n)
		}
	}
	// an integral field never equals a fraction: nothing to round
	lo.num = n
	return lo, lo, prefix, ""
}

// typedTest is one typed condition on a value: v OP literal.
type typedTest struct {
	op     eql.Op // OpEq, OpLt, OpLte, OpGt, OpGte
	lo, hi tval
	prefix netip.Prefix
}

func (tf *typedField) holds(x *typedTest, v *tval) bool {
	switch x.op {
	case eql.OpEq:
		if x.prefix.IsValid() {
			return x.prefix.Contains(netip.AddrFrom16(v.a).Unmap())
		}
		return tf.cmp(v, &x.lo) >= 0 && tf.cmp(v, &x.hi) <= 0
	case eql.OpLt:
		return tf.cmp(v, &x.lo) < 0
	case eql.OpLte:
		return tf.cmp(v, &x.hi) <= 0
	case eql.OpGt:
		return tf.cmp(v, &x.hi) > 0
	}
	return tf.cmp(v, &x.lo) >= 0
}

// anyTyped is true when some value of the field, read as its type,
// satisfies ok (or, with matchNull, when the field has no value).
func (cp *compiler) anyTyped(f *eql.Field, tf *typedField, matchNull bool, ok func(v *tval) bool) predFn {
	slot := cp.slot(f)
	return func(c *ctx) bool {
		ev := c.ev
		if matchNull && !ev.exists(slot) {
			return true
		}
		for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
			if v, read := tf.event(&ev.vals[i-1].v); read && ok(&v) {
				return true
			}
		}
		return false
	}
}

// typedComparison compiles `f op lit` (op not !=: the caller negates ==).
func (cp *compiler) typedComparison(f *eql.Field, tf *typedField, lit *eql.Literal, op eql.Op) predFn {
	x := typedTest{op: op}
	var why string
	x.lo, x.hi, x.prefix, why = tf.literal(lit, op == eql.OpEq)
	if why != "" {
		return func(*ctx) bool { return false } // lintTypes warns
	}
	return cp.anyTyped(f, tf, false, func(v *tval) bool { return tf.holds(&x, v) })
}

// typedIn compiles `f in (literals)` and `f in~ (...)` (case does not
// matter for these types); ok=false when the list has a non-literal.
// Numbers are looked up in a set of stored values, the rest tested in turn.
func (cp *compiler) typedIn(f *eql.Field, tf *typedField, list []eql.Expr) (predFn, bool) {
	var tests []typedTest
	nums := map[float64]struct{}{}
	hasNull := false
	for _, e := range list {
		l, ok := e.(*eql.Literal)
		if !ok {
			return nil, false
		}
		if l.Kind == eql.LitNull {
			hasNull = true
			continue
		}
		x := typedTest{op: eql.OpEq}
		var why string
		x.lo, x.hi, x.prefix, why = tf.literal(l, true)
		switch {
		case why != "": // lintTypes warns
		case tf.f.Type.Numeric():
			nums[x.lo.num] = struct{}{}
		default:
			tests = append(tests, x)
		}
	}
	if tf.f.Type.Numeric() {
		return cp.anyTyped(f, tf, hasNull, func(v *tval) bool {
			_, ok := nums[v.num]
			return ok
		}), true
	}
	return cp.anyTyped(f, tf, hasNull, func(v *tval) bool {
		for k := range tests {
			if tf.holds(&tests[k], v) {
				return true
			}
		}
		return false
	}), true
}

// lintTypes warns about the comparisons in e that the field's type makes
// never true. It walks the condition itself, since a memoized condition is
// compiled once for all the rules that share it.
func (cp *compiler) lintTypes(e eql.Expr) {
	warn := func(p eql.Pos, tf *typedField, why string) {
		cp.warns = append(cp.warns, &eql.Error{Src: cp.src, Pos: p,
			Msg: fmt.Sprintf("literal the field's type cannot read, for %s: %s (Elasticsearch rejects the query; here == never matches and != always does)", tf.f, why)})
	}
	switch x := e.(type) {
	case *eql.Binary:
		switch x.Op {
		case eql.OpAnd, eql.OpOr:
			cp.lintTypes(x.Left)
			cp.lintTypes(x.Right)
		case eql.OpEq, eql.OpNeq, eql.OpLt, eql.OpLte, eql.OpGt, eql.OpGte:
			f, l := fieldLit(x.Left, x.Right)
			if f == nil || l.Kind == eql.LitNull {
				return
			}
			if tf, ok := cp.typed(f); ok {
				eq := x.Op == eql.OpEq || x.Op == eql.OpNeq
				if _, _, _, why := tf.literal(l, eq); why != "" {
					warn(l.Pos, tf, why)
				}
			}
		}
	case *eql.Not:
		cp.lintTypes(x.X)
	case *eql.In:
		f, ok := x.X.(*eql.Field)
		if !ok {
			return
		}
		tf, ok := cp.typed(f)
		if !ok {
			return
		}
		for _, item := range x.List {
			if l, ok := item.(*eql.Literal); ok && l.Kind != eql.LitNull {
				if _, _, _, why := tf.literal(l, true); why != "" {
					warn(l.Pos, tf, why)
				}
			}
		}
	}
}

// applyTypes sets the null_value of the program's fields and adds the
// types the rules compare by to the program hash (state built under other
// types is not this program's). Without Types it does nothing, so an
// untyped program hashes as before.
func (p *Program) applyTypes(h io.Writer) {
	if p.opts.Types == nil {
		return
	}
	var desc []string
	for i, name := range p.sch.names {
		f, ok := p.opts.Types.Lookup(name)
		if !ok {
			continue
		}
		if f.NullValue != nil {
			v := nullValue(f.NullValue)
			p.sch.nodes[i].null = &v
			desc = append(desc, fmt.Sprintf("%s null=%v", name, f.NullValue))
		}
		if p.sch.typed[name] {
			desc = append(desc, fmt.Sprintf("%s %v %s %g", name, f.Type, f.Format, f.ScalingFactor))
		}
	}
	if len(desc) == 0 {
		return
	}
	sort.Strings(desc)
	fmt.Fprintf(h, "\x00types\x00%s", strings.Join(desc, "\x00"))
}

// nullValue is a mapping's null_value as a decoded event value.
func nullValue(v any) Value {
	switch x := v.(type) {
	case string:
		return Value{Kind: KindString, Str: []byte(x)}
	case float64:
		return Value{Kind: KindNumber, Num: x, Str: appendNum(nil, x)}
	case bool:
		return Value{Kind: KindBool, Bool: x}
	}
	return Value{}
}
