package gen

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonWriter appends one JSON object to b with a fixed key order. An object
// opened flat does not start a JSON object: its keys are written into the
// enclosing one with a dotted prefix ("process.parent.name"), which is how a
// few events mix dotted keys with nested objects.
type jsonWriter struct {
	b      []byte
	prefix []byte
	depth  int
	base   [maxJSONDepth]int  // start in prefix of the prefix in force at each JSON depth
	first  [maxJSONDepth]bool // nothing written yet at each JSON depth
	frames [maxJSONDepth * 2]frame
	nf     int
	flat   bool // force every open to be flat
}

type frame struct {
	prefixLen int
	opened    bool
}

const maxJSONDepth = 12

func (w *jsonWriter) reset(b []byte, flatAll bool) {
	w.b = append(b, '{')
	w.prefix = w.prefix[:0]
	w.depth = 0
	w.base[0] = 0
	w.first[0] = true
	w.nf = 0
	w.flat = flatAll
}

func (w *jsonWriter) finish() []byte {
	return append(w.b, '}')
}

func (w *jsonWriter) key(k string) {
	d := w.depth
	if w.first[d] {
		w.first[d] = false
		w.b = append(w.b, '"')
	} else {
		w.b = append(w.b, ',', '"')
	}
	if base := w.base[d]; base < len(w.prefix) {
		w.b = append(w.b, w.prefix[base:]...)
	}
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// open starts object k, nested or (if flat or the writer is all flat) as a
// dotted prefix.
func (w *jsonWriter) open(k string, flat bool) {
	fr := &w.frames[w.nf]
	w.nf++
	fr.prefixLen = len(w.prefix)
	if flat || w.flat {
		fr.opened = false
		w.prefix = append(w.prefix, k...)
		w.prefix = append(w.prefix, '.')
		return
	}
	fr.opened = true
	w.key(k)
	w.b = append(w.b, '{')
	w.depth++
	w.base[w.depth] = len(w.prefix)
	w.first[w.depth] = true
}

func (w *jsonWriter) close() {
	w.nf--
	fr := w.frames[w.nf]
	if fr.opened {
		w.b = append(w.b, '}')
		w.depth--
	}
	w.prefix = w.prefix[:fr.prefixLen]
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jsonWriter) strs(k string, vs []string) {
	w.key(k)
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendJSONString(w.b, v)
	}
	w.b = append(w.b, ']')
}

// str1 writes a one-element string array.
func (w *jsonWriter) str1(k, v string) {
	w.key(k)
	w.b = append(w.b, '[')
	w.b = appendJSONString(w.b, v)
	w.b = append(w.b, ']')
}

func (w *jsonWriter) time(k string, ms int64, dc *dateCache) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = dc.appendTime(w.b, ms)
	w.b = append(w.b, '"')
}

// raw writes key k with a pre-rendered JSON value.
func (w *jsonWriter) raw(k string, v []byte) {
	w.key(k)
	w.b = append(w.b, v...)
}

// jsonSafe marks the bytes that a JSON string may hold unescaped (ASCII
// only; other bytes take the slow path).
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	i := 0
	for i < len(s) && jsonSafe[s[i]] {
		i++
	}
	if i == len(s) {
		b = append(b, s...)
		return append(b, '"')
	}
	return appendJSONStringSlow(b, s, i)
}

func appendJSONStringSlow(b []byte, s string, i int) []byte {
	b = append(b, s[:i]...)
	start := i
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				const hex = "0123456789abcdef"
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// dateCache formats millisecond Unix times as RFC 3339 UTC with
// milliseconds, computing the calendar date once per day.
type dateCache struct {
	day  int64
	date [11]byte // "2006-01-02T"
	ok   bool
}

const msPerDay = 24 * 60 * 60 * 1000

func (d *dateCache) appendTime(b []byte, ms int64) []byte {
	day := ms / msPerDay
	rem := ms % msPerDay
	if rem < 0 {
		day--
		rem += msPerDay
	}
	if !d.ok || day != d.day {
		t := time.UnixMilli(day * msPerDay).UTC()
		copy(d.date[:], t.Format("2006-01-02T"))
		d.day, d.ok = day, true
	}
	b = append(b, d.date[:]...)
	h := rem / 3600000
	m := rem / 60000 % 60
	s := rem / 1000 % 60
	f := rem % 1000
	return append(b,
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10), 'Z')
}
