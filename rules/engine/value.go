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
	// gen numbers the current event; memo[k] is gen<<1 | result of the
	// program's k-th memoized condition, valid when the gen matches.
	gen  uint64
	memo []uint64
	// The lower-cased form of event values, by index in ev.vals, computed
	// once per event however many case-insensitive conditions read it.
	lowGen []uint64
	lowAt  []lowSpan
	lowBuf []byte
}

// lowSpan locates a lower-cased value in ctx.lowBuf; same means the value
// is already lower case.
type lowSpan struct {
	off, n uint32
	same   bool
}

// newEvent starts the evaluation of a new event of a program with memos
// memoized conditions.
func (c *ctx) newEvent(memos int) {
	c.gen++
	c.buf = c.buf[:0]
	c.lowBuf = c.lowBuf[:0]
	if len(c.memo) < memos {
		c.memo = make([]uint64, memos)
	}
}

// lowerVal returns s, the bytes of the event value at index i of ev.vals,
// lower-cased; the result is computed once per event.
func (c *ctx) lowerVal(i int32, s []byte) []byte {
	if int(i) >= len(c.lowGen) {
		n := max(len(c.ev.vals), int(i)+1)
		c.lowGen = append(c.lowGen, make([]uint64, n-len(c.lowGen))...)
		c.lowAt = append(c.lowAt, make([]lowSpan, n-len(c.lowAt))...)
	}
	if c.lowGen[i] == c.gen {
		if sp := c.lowAt[i]; !sp.same {
			return c.lowBuf[sp.off : sp.off+sp.n : sp.off+sp.n]
		}
		return s
	}
	c.lowGen[i] = c.gen
	if !needsLower(s) {
		c.lowAt[i] = lowSpan{same: true}
		return s
	}
	off := len(c.lowBuf)
	c.lowBuf = lowerInto(c.lowBuf, s)
	c.lowAt[i] = lowSpan{off: uint32(off), n: uint32(len(c.lowBuf) - off)}
	return c.lowBuf[off:len(c.lowBuf):len(c.lowBuf)]
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
