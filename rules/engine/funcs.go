package engine

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/eqlstream/eqlstream/rules/eql"
)

// call compiles a function call to a value. A null argument gives null.
func (cp *compiler) call(x *eql.Call) valFn {
	info, ok := eql.LookupFunc(x.Name)
	if !ok {
		cp.fail(x.Pos, "unknown function %s", x.Name)
	}
	if len(x.Args) < info.MinArgs || (info.MaxArgs >= 0 && len(x.Args) > info.MaxArgs) {
		cp.fail(x.Pos, "wrong number of arguments to %s", info.Name)
	}
	args := make([]valFn, len(x.Args))
	for i, a := range x.Args {
		args[i] = cp.value(a)
	}
	fold := x.CaseInsensitive
	str := func(c *ctx, v Value) ([]byte, bool) {
		if v.Kind == KindNull || v.Kind == KindObject {
			return nil, false
		}
		s := c.str(v)
		if fold {
			s = c.lower(s)
		}
		return s, true
	}
	boolV := func(b bool) Value { return Value{Kind: KindBool, Bool: b} }
	numV := func(f float64) Value { return Value{Kind: KindNumber, Num: f} }
	strV := func(c *ctx, b []byte) Value {
		start := len(c.buf)
		c.buf = append(c.buf, b...)
		return Value{Kind: KindString, Str: c.buf[start:len(c.buf):len(c.buf)]}
	}
	two := func(fn func(c *ctx, a, b []byte) Value) valFn {
		return func(c *ctx) Value {
			a, ok1 := str(c, args[0](c))
			b, ok2 := str(c, args[1](c))
			if !ok1 || !ok2 {
				return Value{}
			}
			return fn(c, a, b)
		}
	}
	switch info.Name {
	case "add":
		return arith(eql.OpAdd, args[0], args[1])
	case "subtract":
		return arith(eql.OpSub, args[0], args[1])
	case "multiply":
		return arith(eql.OpMul, args[0], args[1])
	case "divide":
		return arith(eql.OpDiv, args[0], args[1])
	case "modulo":
		return arith(eql.OpMod, args[0], args[1])
	case "startsWith":
		return two(func(_ *ctx, a, b []byte) Value { return boolV(bytes.HasPrefix(a, b)) })
	case "endsWith":
		return two(func(_ *ctx, a, b []byte) Value { return boolV(bytes.HasSuffix(a, b)) })
	case "stringContains":
		return two(func(_ *ctx, a, b []byte) Value { return boolV(bytes.Contains(a, b)) })
	case "length":
		return func(c *ctx) Value {
			v := args[0](c)
			if v.Kind == KindNull || v.Kind == KindObject {
				return Value{}
			}
			return numV(float64(utf8.RuneCount(c.str(v))))
		}
	case "string":
		return func(c *ctx) Value {
			v := args[0](c)
			if v.Kind == KindNull || v.Kind == KindObject {
				return Value{}
			}
			return Value{Kind: KindString, Str: c.str(v)}
		}
	case "number":
		return func(c *ctx) Value {
			v := args[0](c)
			if v.Kind == KindNumber {
				return v
			}
			if v.Kind != KindString {
				return Value{}
			}
			// ToNumberFunctionProcessor.doProcess: a null (or absent) base
			// means 16 for a string starting with "0x" (lowercase only),
			// else 10.
			s := string(bytes.TrimSpace(v.Str))
			hex := strings.HasPrefix(s, "0x")
			base := 10
			if hex {
				base = 16
			}
			if len(args) > 1 {
				if bv := args[1](c); bv.Kind != KindNull {
					b, ok := numOf(bv)
					if !ok {
						return Value{}
					}
					base = int(b)
				}
			}
			if base == 10 {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return Value{}
				}
				return numV(f)
			}
			if base == 16 && hex {
				s = s[2:]
			}
			n, err := strconv.ParseInt(s, base, 64)
			if err != nil {
				return Value{}
			}
			return numV(float64(n))
		}
	case "concat":
		return func(c *ctx) Value {
			var tmp []byte
			for _, a := range args {
				v := a(c)
				if v.Kind == KindNull || v.Kind == KindObject {
					return Value{}
				}
				tmp = append(tmp, c.str(v)...)
			}
			return strV(c, tmp)
		}
	case "indexOf":
		return func(c *ctx) Value {
			a, ok1 := str(c, args[0](c))
			b, ok2 := str(c, args[1](c))
			if !ok1 || !ok2 {
				return Value{}
			}
			start := 0
			if len(args) > 2 {
				n, ok := numOf(args[2](c))
				if !ok {
					return Value{}
				}
				start = max(int(n), 0)
			}
			runes := []rune(string(a))
			if start > len(runes) {
				return Value{}
			}
			i := bytes.Index([]byte(string(runes[start:])), b)
			if i < 0 {
				return Value{}
			}
			return numV(float64(start + utf8.RuneCount([]byte(string(runes[start:]))[:i])))
		}
	case "substring":
		return func(c *ctx) Value {
			v := args[0](c)
			if v.Kind == KindNull || v.Kind == KindObject {
				return Value{}
			}
			runes := []rune(string(c.str(v)))
			n := len(runes)
			norm := func(i int) int {
				if i < 0 {
					i += n
				}
				return min(max(i, 0), n)
			}
			s, ok := numOf(args[1](c))
			if !ok {
				return Value{}
			}
			start, end := norm(int(s)), n
			if len(args) > 2 {
				e, ok := numOf(args[2](c))
				if !ok {
					return Value{}
				}
				end = norm(int(e))
			}
			if start >= end {
				return strV(c, nil)
			}
			return strV(c, []byte(string(runes[start:end])))
		}
	case "between":
		return func(c *ctx) Value {
			src, ok1 := str(c, args[0](c))
			l, ok2 := str(c, args[1](c))
			r, ok3 := str(c, args[2](c))
			if !ok1 || !ok2 || !ok3 {
				return Value{}
			}
			greedy := false
			if len(args) > 3 {
				g := args[3](c)
				greedy = g.Kind == KindBool && g.Bool
			}
			orig := c.str(args[0](c))
			if len(l) == 0 || len(r) == 0 {
				return Value{Kind: KindString, Str: orig} // StringUtils.between: nothing to search for
			}
			i := bytes.Index(src, l)
			if i < 0 {
				return strV(c, nil)
			}
			from := i + len(l)
			var j int
			if greedy {
				j = bytes.LastIndex(src[from:], r)
			} else {
				j = bytes.Index(src[from:], r)
			}
			if j < 0 {
				return strV(c, nil)
			}
			if fold && len(orig) == len(src) {
				return strV(c, orig[from:from+j])
			}
			return strV(c, src[from:from+j])
		}
	case "cidrMatch":
		return func(c *ctx) Value {
			v := args[0](c)
			if v.Kind != KindString {
				return Value{}
			}
			a, ok := parseIP(v.Str)
			if !ok {
				return boolV(false)
			}
			for _, arg := range args[1:] {
				cv := arg(c)
				if cv.Kind != KindString {
					continue
				}
				p, err := parseCIDR(string(cv.Str))
				if err == nil && p.Contains(a) {
					return boolV(true)
				}
			}
			return boolV(false)
		}
	}
	cp.fail(x.Pos, "function %s is not supported", info.Name)
	return nil
}
