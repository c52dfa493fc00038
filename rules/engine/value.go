package engine

import (
	"bytes"
	"math"
	"net/netip"
	"strconv"
)

// ctx is the per-engine evaluation context: the current event, scratch space
// for folded strings and function results, and the binding of one
// multi-valued field while a comparison iterates over its values.
type ctx struct {
	ev        *Event
	buf       []byte
	boundSlot int
	boundVal  Value
}

func (c *ctx) field(slot int) Value {
	if slot == c.boundSlot {
		return c.boundVal
	}
	v, _ := c.ev.first(slot)
	return v
}

// lower returns s folded to lower case, using the scratch buffer.
func (c *ctx) lower(s []byte) []byte {
	if !needsLower(s) {
		return s
	}
	start := len(c.buf)
	c.buf = lowerInto(c.buf, s)
	return c.buf[start:len(c.buf):len(c.buf)]
}

func (c *ctx) str(v Value) []byte {
	switch v.Kind {
	case KindString:
		return v.Str
	case KindNumber:
		if v.Str != nil {
			return v.Str
		}
		start := len(c.buf)
		c.buf = appendNum(c.buf, v.Num)
		return c.buf[start:len(c.buf):len(c.buf)]
	case KindBool:
		if v.Bool {
			return []byte("true")
		}
		return []byte("false")
	}
	return nil
}

func appendNum(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

func numOf(v Value) (float64, bool) {
	switch v.Kind {
	case KindNumber:
		return v.Num, true
	case KindString:
		f, err := strconv.ParseFloat(bstr(bytes.TrimSpace(v.Str)), 64)
		return f, err == nil
	}
	return 0, false
}

func isIntegral(v Value) bool {
	return v.Kind == KindNumber && v.Num == math.Trunc(v.Num) && !bytes.ContainsAny(v.Str, ".eE")
}

// compare returns -1, 0, 1, or ok=false when the values are not comparable
// (a null side, or mismatched types that do not convert).
func compare(c *ctx, a, b Value) (int, bool) {
	if a.Kind == KindNull || b.Kind == KindNull || a.Kind == KindObject || b.Kind == KindObject {
		return 0, false
	}
	if a.Kind == KindNumber || b.Kind == KindNumber {
		x, ok1 := numOf(a)
		y, ok2 := numOf(b)
		if ok1 && ok2 {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
		if a.Kind != KindString && b.Kind != KindString {
			return 0, false
		}
	}
	if a.Kind == KindBool && b.Kind == KindBool {
		switch {
		case a.Bool == b.Bool:
			return 0, true
		case !a.Bool:
			return -1, true
		}
		return 1, true
	}
	return bytes.Compare(c.str(a), c.str(b)), true
}

func parseIP(s []byte) (netip.Addr, bool) {
	a, err := netip.ParseAddr(bstr(s))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
