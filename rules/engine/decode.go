package engine

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Decode error reasons, stable strings used in metrics and dead-letter headers.
const (
	ReasonMalformed = "malformed_json"
	ReasonNotObject = "not_object"
	ReasonTooDeep   = "too_deep"
	ReasonTooLarge  = "too_large"
	ReasonNoTime    = "missing_timestamp"
	ReasonBadTime   = "invalid_timestamp"
)

// DecodeError says where and why an event could not be decoded.
type DecodeError struct {
	Offset int
	Reason string
	Msg    string
}

func (e *DecodeError) Error() string {
	if e.Offset < 0 {
		return e.Msg
	}
	return fmt.Sprintf("byte %d: %s", e.Offset, e.Msg)
}

type node struct {
	children map[string]*node
	slot     int
}

// schema maps the field paths the compiled rules read to slots, as a trie of
// path segments so nested objects, dotted keys and mixes of both decode alike.
type schema struct {
	root  *node
	names []string
	index map[string]int
}

func newSchema() *schema {
	return &schema{root: &node{slot: -1}, index: map[string]int{}}
}

// slot returns the slot of a dotted field name, adding it if needed.
func (s *schema) slot(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	n := s.root
	for _, seg := range strings.Split(name, ".") {
		if n.children == nil {
			n.children = map[string]*node{}
		}
		c := n.children[seg]
		if c == nil {
			c = &node{slot: -1}
			n.children[seg] = c
		}
		n = c
	}
	i := len(s.names)
	s.names = append(s.names, name)
	s.index[name] = i
	n.slot = i
	return i
}

type decoder struct {
	b        []byte
	i        int
	ev       *Event
	maxDepth int
	keybuf   []byte
}

var strStop [256]bool

func init() {
	for c := 0; c < 0x20; c++ {
		strStop[c] = true
	}
	strStop['"'] = true
	strStop['\\'] = true
}

func (d *decoder) fail(reason, format string, args ...any) error {
	return &DecodeError{Offset: d.i, Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// decode fills ev with the values of the schema's fields found in raw.
func (s *schema) decode(raw []byte, ev *Event, maxDepth int, d *decoder) error {
	ev.reset(len(s.names))
	ev.Raw = raw
	if cap(ev.scratch) < len(raw) {
		ev.scratch = make([]byte, 0, len(raw)+len(raw)/2)
	}
	*d = decoder{b: raw, ev: ev, maxDepth: maxDepth, keybuf: d.keybuf[:0]}
	d.ws()
	if d.i >= len(raw) {
		return d.fail(ReasonMalformed, "empty input")
	}
	if raw[d.i] != '{' {
		if raw[d.i] == '[' || raw[d.i] == '"' || raw[d.i] == '-' || (raw[d.i] >= '0' && raw[d.i] <= '9') ||
			raw[d.i] == 't' || raw[d.i] == 'f' || raw[d.i] == 'n' {
			if err := d.skip(1); err != nil {
				return err
			}
			d.ws()
			if d.i == len(raw) {
				return &DecodeError{Offset: 0, Reason: ReasonNotObject, Msg: "the event is valid JSON but not an object"}
			}
		}
		return d.fail(ReasonMalformed, "expected '{' to start the event, found %s", d.describe())
	}
	if err := d.object(s.root, 1); err != nil {
		return err
	}
	d.ws()
	if d.i != len(raw) {
		return d.fail(ReasonMalformed, "unexpected %s after the end of the event", d.describe())
	}
	return nil
}

func (d *decoder) describe() string {
	if d.i >= len(d.b) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(d.b[d.i:])
	return strconv.QuoteRune(r)
}

func (d *decoder) lookup(n *node, key []byte) *node {
	if n == nil || n.children == nil {
		return nil
	}
	if c := n.children[bstr(key)]; c != nil {
		return c
	}
	if bytes.IndexByte(key, '.') < 0 {
		return nil
	}
	for len(key) > 0 && n != nil {
		j := bytes.IndexByte(key, '.')
		seg := key
		if j >= 0 {
			seg, key = key[:j], key[j+1:]
		} else {
			key = nil
		}
		if n.children == nil {
			return nil
		}
		n = n.children[bstr(seg)]
	}
	return n
}

// object parses an object at d.i whose trie node is n (nil: skip all).
func (d *decoder) object(n *node, depth int) error {
	if depth > d.maxDepth {
		return d.fail(ReasonTooDeep, "nesting deeper than %d levels", d.maxDepth)
	}
	d.i++ // '{'
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return d.fail(ReasonMalformed, "expected a string key, found %s", d.describe())
		}
		key, err := d.key()
		if err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return d.fail(ReasonMalformed, "expected ':' after an object key, found %s", d.describe())
		}
		d.i++
		d.ws()
		c := d.lookup(n, key)
		if c == nil {
			err = d.skip(depth + 1)
		} else {
			err = d.value(c, depth+1)
		}
		if err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.fail(ReasonMalformed, "unterminated object")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
			d.ws()
		case '}':
			d.i++
			return nil
		default:
			return d.fail(ReasonMalformed, "expected ',' or '}' in object, found %s", d.describe())
		}
	}
}

// key reads an object key; the result is valid until the next key.
func (d *decoder) key() ([]byte, error) {
	start := d.i + 1
	j := start
	for j < len(d.b) && !strStop[d.b[j]] {
		j++
	}
	if j < len(d.b) && d.b[j] == '"' {
		d.i = j + 1
		return d.b[start:j], nil
	}
	d.keybuf = d.keybuf[:0]
	var err error
	d.keybuf, err = d.str(d.keybuf)
	return d.keybuf, err
}

// str unescapes the string at d.i (at its opening quote) onto dst.
func (d *decoder) str(dst []byte) ([]byte, error) {
	d.i++
	for {
		start := d.i
		for d.i < len(d.b) && !strStop[d.b[d.i]] {
			d.i++
		}
		dst = append(dst, d.b[start:d.i]...)
		if d.i >= len(d.b) {
			return dst, d.fail(ReasonMalformed, "unterminated string")
		}
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return dst, nil
		case c < 0x20:
			return dst, d.fail(ReasonMalformed, "control character %#x in string", c)
		}
		// backslash
		if d.i+1 >= len(d.b) {
			return dst, d.fail(ReasonMalformed, "unterminated string")
		}
		e := d.b[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return dst, d.fail(ReasonMalformed, "invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if d.i+1 < len(d.b) && d.b[d.i] == '\\' && d.b[d.i+1] == 'u' {
					d.i += 2
					lo, ok := d.hex4()
					if !ok {
						return dst, d.fail(ReasonMalformed, "invalid \\u escape")
					}
					r2 = utf16.DecodeRune(r, lo)
				}
				r = r2
			}
			dst = utf8.AppendRune(dst, r)
		default:
			d.i -= 2
			return dst, d.fail(ReasonMalformed, "invalid escape '\\%c' in string", e)
		}
	}
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.b) {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// stringValue reads a string value without copying when it has no escapes.
func (d *decoder) stringValue() ([]byte, error) {
	start := d.i + 1
	j := start
	for j < len(d.b) && !strStop[d.b[j]] {
		j++
	}
	if j < len(d.b) && d.b[j] == '"' {
		d.i = j + 1
		return d.b[start:j], nil
	}
	sc := d.ev.scratch
	s0 := len(sc)
	sc, err := d.str(sc)
	d.ev.scratch = sc
	return sc[s0:len(sc):len(sc)], err
}

func (d *decoder) number() ([]byte, error) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		s := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
		return d.i - s
	}
	if n := digits(); n == 0 || (n > 1 && d.b[d.i-n] == '0') {
		d.i = start
		return nil, d.fail(ReasonMalformed, "invalid number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, d.fail(ReasonMalformed, "invalid number")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, d.fail(ReasonMalformed, "invalid number")
		}
	}
	return d.b[start:d.i], nil
}

func (d *decoder) literal(word string) error {
	if !bytes.HasPrefix(d.b[d.i:], []byte(word)) {
		return d.fail(ReasonMalformed, "invalid literal, expected %s", word)
	}
	d.i += len(word)
	return nil
}

// value parses the value at d.i into the field at trie node n.
func (d *decoder) value(n *node, depth int) error {
	if d.i >= len(d.b) {
		return d.fail(ReasonMalformed, "expected a value, found end of input")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		if n.slot >= 0 {
			d.ev.add(n.slot, Value{Kind: KindObject})
		}
		if n.children == nil {
			return d.skip(depth)
		}
		return d.object(n, depth)
	case c == '[':
		if depth > d.maxDepth {
			return d.fail(ReasonTooDeep, "nesting deeper than %d levels", d.maxDepth)
		}
		d.i++
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			return nil
		}
		for {
			if err := d.value(n, depth+1); err != nil {
				return err
			}
			d.ws()
			if d.i >= len(d.b) {
				return d.fail(ReasonMalformed, "unterminated array")
			}
			switch d.b[d.i] {
			case ',':
				d.i++
				d.ws()
			case ']':
				d.i++
				return nil
			default:
				return d.fail(ReasonMalformed, "expected ',' or ']' in array, found %s", d.describe())
			}
		}
	case c == '"':
		if n.slot < 0 {
			return d.skipString()
		}
		s, err := d.stringValue()
		if err != nil {
			return err
		}
		d.ev.add(n.slot, Value{Kind: KindString, Str: s})
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		num, err := d.number()
		if err != nil || n.slot < 0 {
			return err
		}
		f, perr := strconv.ParseFloat(bstr(num), 64)
		if perr != nil && f == 0 {
			return d.fail(ReasonMalformed, "invalid number %q", num)
		}
		d.ev.add(n.slot, Value{Kind: KindNumber, Num: f, Str: num})
		return nil
	case c == 't':
		if err := d.literal("true"); err != nil {
			return err
		}
		if n.slot >= 0 {
			d.ev.add(n.slot, Value{Kind: KindBool, Bool: true})
		}
		return nil
	case c == 'f':
		if err := d.literal("false"); err != nil {
			return err
		}
		if n.slot >= 0 {
			d.ev.add(n.slot, Value{Kind: KindBool})
		}
		return nil
	case c == 'n':
		return d.literal("null")
	}
	return d.fail(ReasonMalformed, "expected a value, found %s", d.describe())
}

func (d *decoder) skipString() error {
	d.i++
	for {
		for d.i < len(d.b) && !strStop[d.b[d.i]] {
			d.i++
		}
		if d.i >= len(d.b) {
			return d.fail(ReasonMalformed, "unterminated string")
		}
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			return nil
		case c < 0x20:
			return d.fail(ReasonMalformed, "control character %#x in string", c)
		}
		if d.i+1 >= len(d.b) {
			return d.fail(ReasonMalformed, "unterminated string")
		}
		switch d.b[d.i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			d.i += 2
		case 'u':
			d.i += 2
			if _, ok := d.hex4(); !ok {
				return d.fail(ReasonMalformed, "invalid \\u escape")
			}
		default:
			return d.fail(ReasonMalformed, "invalid escape '\\%c' in string", d.b[d.i+1])
		}
	}
}

// skip validates and skips the value at d.i.
func (d *decoder) skip(depth int) error {
	if d.i >= len(d.b) {
		return d.fail(ReasonMalformed, "expected a value, found end of input")
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.skipString()
	case c == '{':
		if depth > d.maxDepth {
			return d.fail(ReasonTooDeep, "nesting deeper than %d levels", d.maxDepth)
		}
		return d.object(nil, depth)
	case c == '[':
		if depth > d.maxDepth {
			return d.fail(ReasonTooDeep, "nesting deeper than %d levels", d.maxDepth)
		}
		d.i++
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == ']' {
			d.i++
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			if d.i >= len(d.b) {
				return d.fail(ReasonMalformed, "unterminated array")
			}
			switch d.b[d.i] {
			case ',':
				d.i++
				d.ws()
			case ']':
				d.i++
				return nil
			default:
				return d.fail(ReasonMalformed, "expected ',' or ']' in array, found %s", d.describe())
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := d.number()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	}
	return d.fail(ReasonMalformed, "expected a value, found %s", d.describe())
}
