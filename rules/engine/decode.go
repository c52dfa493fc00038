package engine

import (
	"bytes"
	"fmt"
	"math/bits"
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

// node is one path segment of the schema trie. Its children are found
// through a small perfect hash of the key's length and first, middle and
// last bytes (see keyTable), so an object key costs one probe and one
// comparison rather than a map lookup.
type node struct {
	children map[string]*node // the source of truth; nil for a leaf
	table    keyTable
	slot     int
	// nested holds the first bytes of the children that have children: a
	// dotted key ("process.name") can only match if it starts with one.
	nested byteSet
	// null is the mapping's null_value, indexed in place of an explicit
	// JSON null (as Elasticsearch does); nil when there is none.
	null *Value
}

// keyTable is a collision-free hash table over a node's child keys.
type keyTable struct {
	ents  []keyEntry
	mul   uint32
	shift uint8
	slow  bool // no perfect hash found: look keys up in the map
}

// keyEntry is one child key, split for a comparison without a call: its
// print, its first (up to) eight bytes as a little-endian word, the rest.
type keyEntry struct {
	print uint32
	w0    uint64
	rest  string
	node  *node
}

func newKeyEntry(k string, c *node) keyEntry {
	var w [8]byte
	copy(w[:], k)
	e := keyEntry{print: keyPrint([]byte(k)), w0: load64(w[:], 0), node: c}
	if len(k) > 8 {
		e.rest = k[8:]
	}
	return e
}

// keyPrint folds a key's length and first, middle and last bytes into 32
// bits; keys that share it cannot be told apart by the table.
func keyPrint(k []byte) uint32 {
	n := len(k)
	if n == 0 {
		return 0
	}
	return uint32(n) | uint32(k[0])<<8 | uint32(k[n>>1])<<16 | uint32(k[n-1])<<24
}

func (t *keyTable) build(children map[string]*node) {
	*t = keyTable{}
	if len(children) == 0 {
		return
	}
	prints := make(map[uint32]bool, len(children))
	for k := range children {
		p := keyPrint([]byte(k))
		if prints[p] || k == "" {
			t.slow = true
			return
		}
		prints[p] = true
	}
	for bitsN := bits.Len(uint(len(children))); bitsN <= 16; bitsN++ {
		size := 1 << bitsN
		shift := uint8(32 - bitsN)
		used := make([]bool, size)
		for mul := uint32(0x9E3779B1); mul != 0x9E3779B1+4096*2; mul += 2 {
			clear(used)
			ok := true
			for p := range prints {
				h := (p * mul) >> shift
				if used[h] {
					ok = false
					break
				}
				used[h] = true
			}
			if !ok {
				continue
			}
			t.ents = make([]keyEntry, size)
			t.mul, t.shift = mul, shift
			for k, c := range children {
				h := (keyPrint([]byte(k)) * mul) >> shift
				t.ents[h] = newKeyEntry(k, c)
			}
			return
		}
	}
	t.slow = true
}

// child returns n's child for key, or nil.
func (n *node) child(key []byte) *node {
	t := &n.table
	if t.slow {
		return n.children[bstr(key)]
	}
	if t.ents == nil || len(key) == 0 {
		return nil
	}
	p := keyPrint(key)
	e := &t.ents[(p*t.mul)>>t.shift]
	if e.print != p || e.node == nil {
		return nil
	}
	// The key lies in the event (or the key buffer), usually with eight
	// readable bytes from its start; beyond its length they are masked.
	var w uint64
	if cap(key) >= 8 {
		w = load64(key[:cap(key)], 0)
	} else {
		var buf [8]byte
		copy(buf[:], key)
		w = load64(buf[:], 0)
	}
	if k := len(key); k < 8 {
		w &= 1<<(8*uint(k)) - 1
	} else if k > 8 && bstr(key[8:]) != e.rest {
		return nil
	}
	if w != e.w0 {
		return nil
	}
	return e.node
}

// schema maps the field paths the compiled rules read to slots, as a trie of
// path segments so nested objects, dotted keys and mixes of both decode alike.
type schema struct {
	root  *node
	names []string
	index map[string]int
	nodes []*node // by slot
	// typed are the fields whose == is not byte equality under the
	// program's types (typed.go): the rule index leaves them out.
	typed map[string]bool
}

// typedName records that name compares by its type.
func (s *schema) typedName(name string) {
	if s.typed == nil {
		s.typed = map[string]bool{}
	}
	s.typed[name] = true
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
	segs := strings.Split(name, ".")
	for k, seg := range segs {
		if n.children == nil {
			n.children = map[string]*node{}
		}
		c := n.children[seg]
		if c == nil {
			c = &node{slot: -1}
			n.children[seg] = c
			n.table.build(n.children)
		}
		if k < len(segs)-1 {
			if seg == "" {
				n.nested.add('.') // a key starting with the empty segment
			} else {
				n.nested.add(seg[0])
			}
		}
		n = c
	}
	i := len(s.names)
	s.names = append(s.names, name)
	s.index[name] = i
	s.nodes = append(s.nodes, n)
	n.slot = i
	return i
}

type decoder struct {
	b        []byte
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

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// scanStr returns the index of the first byte at or after i that ends a
// plain run of string bytes ('"', '\\' or a control character), or len(b).
// It tests eight bytes at a time (see stops). The hot paths (object keys,
// string values, skipped strings) repeat this loop inline: one loop, whose
// exit is the one data-dependent branch per string, measured faster than a
// first-word fast path followed by a loop.
func scanStr(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := stops(load64(b, i)); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) && !strStop[b[i]] {
		i++
	}
	return i
}

// stops flags with 0x80 the bytes of w that are '"', '\\' or below 0x20;
// the lowest flag is exact (borrows only run upwards). Flipping bit 1 maps
// '"' (0x22) to 0x20 and the control characters onto 0x00-0x1f, so one
// less-than-0x21 test finds both.
func stops(w uint64) uint64 {
	x := w ^ (lsb * 0x02)
	s := w ^ (lsb * '\\')
	return (((x - lsb*0x21) &^ x) | ((s - lsb) &^ s)) & msb
}

// Errors. They are built in functions of their own, away from the scanning
// loops, whose frames and code stay small.

func (d *decoder) malformed(i int, msg string) error {
	return &DecodeError{Offset: i, Reason: ReasonMalformed, Msg: msg}
}

// found reports that b[i] is not what was expected.
func (d *decoder) found(i int, expected string) error {
	return &DecodeError{Offset: i, Reason: ReasonMalformed, Msg: "expected " + expected + ", found " + d.describe(i)}
}

func (d *decoder) trailing(i int) error {
	return &DecodeError{Offset: i, Reason: ReasonMalformed, Msg: "unexpected " + d.describe(i) + " after the end of the event"}
}

func (d *decoder) tooDeep(i int) error {
	return &DecodeError{Offset: i, Reason: ReasonTooDeep, Msg: fmt.Sprintf("nesting deeper than %d levels", d.maxDepth)}
}

func (d *decoder) control(i int, c byte) error {
	return &DecodeError{Offset: i, Reason: ReasonMalformed, Msg: fmt.Sprintf("control character %#x in string", c)}
}

func (d *decoder) badEscape(i int, e byte) error {
	return &DecodeError{Offset: i, Reason: ReasonMalformed, Msg: fmt.Sprintf("invalid escape '\\%c' in string", e)}
}

func (d *decoder) badLiteral(i int, word string) error {
	return &DecodeError{Offset: i, Reason: ReasonMalformed, Msg: "invalid literal, expected " + word}
}

func (d *decoder) badNumber(i int, num []byte) error {
	return &DecodeError{Offset: i, Reason: ReasonMalformed, Msg: fmt.Sprintf("invalid number %q", num)}
}

// ws skips JSON white space from i. Events are mostly compact: the first
// test, one comparison, usually ends it.
func ws(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// decode fills ev with the values of the schema's fields found in raw.
func (s *schema) decode(raw []byte, ev *Event, maxDepth int, d *decoder) error {
	ev.reset(len(s.names))
	ev.Raw = raw
	if cap(ev.scratch) < len(raw) {
		ev.scratch = make([]byte, 0, len(raw)+len(raw)/2)
	}
	*d = decoder{b: raw, ev: ev, maxDepth: maxDepth, keybuf: d.keybuf[:0]}
	i := ws(raw, 0)
	if i >= len(raw) {
		return d.malformed(i, "empty input")
	}
	if raw[i] != '{' {
		if c := raw[i]; c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n' {
			j, err := d.skip(i, 1)
			if err != nil {
				return err
			}
			i = ws(raw, j)
			if i == len(raw) {
				return &DecodeError{Offset: 0, Reason: ReasonNotObject, Msg: "the event is valid JSON but not an object"}
			}
		}
		return d.found(i, "'{' to start the event")
	}
	i, err := d.object(s.root, i, 1)
	if err != nil {
		return err
	}
	if i = ws(raw, i); i != len(raw) {
		return d.trailing(i)
	}
	return nil
}

func (d *decoder) describe(i int) string {
	if i >= len(d.b) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(d.b[i:])
	return strconv.QuoteRune(r)
}

// dotted looks up a key that missed among n's children as a dotted path
// ("process.name" at the top level), a segment at a time.
func dotted(n *node, key []byte) *node {
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
		n = n.child(seg)
	}
	return n
}

// object parses the object at b[i] ('{') whose trie node is n, which has
// children; it returns the index after the object.
func (d *decoder) object(n *node, i, depth int) (int, error) {
	if depth > d.maxDepth {
		return i, d.tooDeep(i)
	}
	b := d.b
	i = ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, d.found(i, "a string key")
		}
		var key []byte
		start := i + 1
		j := start
		for j+8 <= len(b) {
			if m := stops(load64(b, j)); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				goto found
			}
			j += 8
		}
		for j < len(b) && !strStop[b[j]] {
			j++
		}
	found:
		if j < len(b) && b[j] == '"' {
			key, i = b[start:j], j+1
		} else {
			var err error
			d.keybuf, i, err = d.str(d.keybuf[:0], i)
			if err != nil {
				return i, err
			}
			key = d.keybuf
		}
		if i < len(b) && b[i] != ':' {
			i = ws(b, i)
		}
		if i >= len(b) || b[i] != ':' {
			return i, d.found(i, "':' after an object key")
		}
		i = ws(b, i+1)
		var err error
		c := n.child(key)
		if c == nil && len(key) > 0 && n.nested.has(key[0]) {
			c = dotted(n, key)
		}
		if c == nil {
			i, err = d.skip(i, depth+1)
		} else {
			i, err = d.value(c, i, depth+1)
		}
		if err != nil {
			return i, err
		}
		if i < len(b) && b[i] != ',' && b[i] != '}' {
			i = ws(b, i)
		}
		if i >= len(b) {
			return i, d.malformed(i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = ws(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, d.found(i, "',' or '}' in object")
		}
	}
}

// str unescapes the string at b[i] (its opening quote) onto dst and returns
// the index after its closing quote.
func (d *decoder) str(dst []byte, i int) ([]byte, int, error) {
	b := d.b
	i++
	for {
		start := i
		i = scanStr(b, i)
		dst = append(dst, b[start:i]...)
		if i >= len(b) {
			return dst, i, d.malformed(i, "unterminated string")
		}
		c := b[i]
		switch {
		case c == '"':
			return dst, i + 1, nil
		case c < 0x20:
			return dst, i, d.control(i, c)
		}
		// backslash
		if i+1 >= len(b) {
			return dst, i, d.malformed(i, "unterminated string")
		}
		e := b[i+1]
		i += 2
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
			r, ok := hex4(b, i)
			if !ok {
				return dst, i, d.malformed(i, "invalid \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					i += 2
					lo, ok := hex4(b, i)
					if !ok {
						return dst, i, d.malformed(i, "invalid \\u escape")
					}
					i += 4
					r2 = utf16.DecodeRune(r, lo)
				}
				r = r2
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, i - 2, d.badEscape(i-2, e)
		}
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
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
	return r, true
}

// number validates the number at b[i] and returns the index after it.
func (d *decoder) number(i int) (int, error) {
	b := d.b
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	j := i
	for j < len(b) && b[j]-'0' <= 9 {
		j++
	}
	if n := j - i; n == 0 || (n > 1 && b[i] == '0') {
		return start, d.malformed(start, "invalid number")
	}
	i = j
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for j < len(b) && b[j]-'0' <= 9 {
			j++
		}
		if j == i {
			return i, d.malformed(i, "invalid number")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for j < len(b) && b[j]-'0' <= 9 {
			j++
		}
		if j == i {
			return i, d.malformed(i, "invalid number")
		}
		i = j
	}
	return i, nil
}

// parseNumber converts a validated JSON number; integers of up to 15 digits
// take a fast path that is exact.
func parseNumber(num []byte) (float64, error) {
	neg := false
	s := num
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) > 0 && len(s) <= 15 {
		var n uint64
		k := 0
		for ; k < len(s) && s[k]-'0' <= 9; k++ {
			n = n*10 + uint64(s[k]-'0')
		}
		if k == len(s) {
			f := float64(n)
			if neg {
				f = -f
			}
			return f, nil
		}
	}
	return strconv.ParseFloat(bstr(num), 64)
}

func (d *decoder) literal(i int, word string) (int, error) {
	if len(d.b)-i < len(word) || bstr(d.b[i:i+len(word)]) != word {
		return i, d.badLiteral(i, word)
	}
	return i + len(word), nil
}

// value parses the value at b[i] into the field at trie node n.
func (d *decoder) value(n *node, i, depth int) (int, error) {
	b := d.b
	if i >= len(b) {
		return i, d.malformed(i, "expected a value, found end of input")
	}
	switch c := b[i]; {
	case c == '"':
		if n.slot < 0 {
			return d.skipString(i)
		}
		start := i + 1
		j := start
		for j+8 <= len(b) {
			if m := stops(load64(b, j)); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				goto found
			}
			j += 8
		}
		for j < len(b) && !strStop[b[j]] {
			j++
		}
	found:
		if j < len(b) && b[j] == '"' {
			v := d.ev.push(n.slot)
			v.Kind, v.Str = KindString, b[start:j:j]
			return j + 1, nil
		}
		sc := d.ev.scratch
		s0 := len(sc)
		sc, i, err := d.str(sc, i)
		d.ev.scratch = sc
		if err != nil {
			return i, err
		}
		v := d.ev.push(n.slot)
		v.Kind, v.Str = KindString, sc[s0:len(sc):len(sc)]
		return i, nil
	case c == '{':
		if n.slot >= 0 {
			d.ev.push(n.slot).Kind = KindObject
		}
		if n.children == nil {
			return d.skip(i, depth)
		}
		return d.object(n, i, depth)
	case c == '[':
		if depth > d.maxDepth {
			return i, d.tooDeep(i)
		}
		i = ws(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = d.value(n, i, depth+1); err != nil {
				return i, err
			}
			if i < len(b) && b[i] != ',' && b[i] != ']' {
				i = ws(b, i)
			}
			if i >= len(b) {
				return i, d.malformed(i, "unterminated array")
			}
			switch b[i] {
			case ',':
				i = ws(b, i+1)
			case ']':
				return i + 1, nil
			default:
				return i, d.found(i, "',' or ']' in array")
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		j, err := d.number(i)
		if err != nil || n.slot < 0 {
			return j, err
		}
		num := b[i:j:j]
		f, perr := parseNumber(num)
		if perr != nil && f == 0 {
			return j, d.badNumber(j, num)
		}
		v := d.ev.push(n.slot)
		v.Kind, v.Num, v.Str = KindNumber, f, num
		return j, nil
	case c == 't':
		j, err := d.literal(i, "true")
		if err == nil && n.slot >= 0 {
			v := d.ev.push(n.slot)
			v.Kind, v.Bool = KindBool, true
		}
		return j, err
	case c == 'f':
		j, err := d.literal(i, "false")
		if err == nil && n.slot >= 0 {
			d.ev.push(n.slot).Kind = KindBool
		}
		return j, err
	case c == 'n':
		j, err := d.literal(i, "null")
		if err == nil && n.null != nil && n.slot >= 0 {
			*d.ev.push(n.slot) = *n.null
		}
		return j, err
	}
	return i, d.found(i, "a value")
}

// skipString validates the string at b[i] and returns the index after it.
func (d *decoder) skipString(i int) (int, error) {
	b := d.b
	i++
	for {
		for i+8 <= len(b) {
			if m := stops(load64(b, i)); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto found
			}
			i += 8
		}
		for i < len(b) && !strStop[b[i]] {
			i++
		}
	found:
		if i >= len(b) {
			return i, d.malformed(i, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return i, d.control(i, c)
		}
		if i+1 >= len(b) {
			return i, d.malformed(i, "unterminated string")
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			i += 2
			if _, ok := hex4(b, i); !ok {
				return i, d.malformed(i, "invalid \\u escape")
			}
			i += 4
		default:
			return i, d.badEscape(i, b[i+1])
		}
	}
}

// skipObject validates and skips the object at b[i] ('{'), whose fields
// no rule reads.
func (d *decoder) skipObject(i, depth int) (int, error) {
	if depth > d.maxDepth {
		return i, d.tooDeep(i)
	}
	b := d.b
	i = ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, d.found(i, "a string key")
		}
		var err error
		if i, err = d.skipString(i); err != nil {
			return i, err
		}
		if i < len(b) && b[i] != ':' {
			i = ws(b, i)
		}
		if i >= len(b) || b[i] != ':' {
			return i, d.found(i, "':' after an object key")
		}
		i = ws(b, i+1)
		if i < len(b) && b[i] == '"' {
			i, err = d.skipString(i)
		} else {
			i, err = d.skip(i, depth+1)
		}
		if err != nil {
			return i, err
		}
		if i < len(b) && b[i] != ',' && b[i] != '}' {
			i = ws(b, i)
		}
		if i >= len(b) {
			return i, d.malformed(i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = ws(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, d.found(i, "',' or '}' in object")
		}
	}
}

// skip validates and skips the value at b[i].
func (d *decoder) skip(i, depth int) (int, error) {
	b := d.b
	if i >= len(b) {
		return i, d.malformed(i, "expected a value, found end of input")
	}
	switch c := b[i]; {
	case c == '"':
		return d.skipString(i)
	case c == '{':
		return d.skipObject(i, depth)
	case c == '[':
		if depth > d.maxDepth {
			return i, d.tooDeep(i)
		}
		i = ws(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i < len(b) && b[i] == '"' {
				i, err = d.skipString(i)
			} else {
				i, err = d.skip(i, depth+1)
			}
			if err != nil {
				return i, err
			}
			if i < len(b) && b[i] != ',' && b[i] != ']' {
				i = ws(b, i)
			}
			if i >= len(b) {
				return i, d.malformed(i, "unterminated array")
			}
			switch b[i] {
			case ',':
				i = ws(b, i+1)
			case ']':
				return i + 1, nil
			default:
				return i, d.found(i, "',' or ']' in array")
			}
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number(i)
	case c == 't':
		return d.literal(i, "true")
	case c == 'f':
		return d.literal(i, "false")
	case c == 'n':
		return d.literal(i, "null")
	}
	return i, d.found(i, "a value")
}
