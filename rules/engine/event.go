package engine

import (
	"strconv"
	"unsafe"
)

// Kind is the type of a decoded field value.
type Kind uint8

// Value kinds. A field without values is missing (null in EQL terms).
const (
	KindNull   Kind = iota // JSON null or no value
	KindString             // Str holds the (unescaped) bytes
	KindNumber             // Num holds the value
	KindBool               // Bool holds the value
	KindObject             // the field is an object: it exists, but has no scalar value
)

// Value is one scalar value of a field. Str aliases the raw event or the
// event's scratch buffer; it is valid until the event is reused.
type Value struct {
	Kind Kind
	Bool bool
	Num  float64
	Str  []byte
}

func (v Value) String() string {
	switch v.Kind {
	case KindString:
		return string(v.Str)
	case KindNumber:
		return strconv.FormatFloat(v.Num, 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindObject:
		return "{object}"
	}
	return "null"
}

// bstr views b as a string without copying; the string must not outlive b.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

type slotVals struct {
	head, tail int32 // index+1 into Event.vals; 0 means none
}

type valNode struct {
	v    Value
	next int32 // index+1 of the next value of the same field
}

// Event is the compact, decoded form of one event: only the fields the
// compiled rules read, each with its values. An Event is reused across
// decodes to avoid allocation.
type Event struct {
	Raw     []byte
	slots   []slotVals
	vals    []valNode
	scratch []byte
	// Timestamp in Unix nanoseconds, valid when HasTimestamp.
	Timestamp    int64
	HasTimestamp bool
	Tiebreaker   int64
	HasTiebreak  bool
}

func (e *Event) reset(n int) {
	if cap(e.slots) < n {
		e.slots = make([]slotVals, n)
	} else {
		e.slots = e.slots[:n]
		clear(e.slots)
	}
	e.vals = e.vals[:0]
	e.scratch = e.scratch[:0]
	e.HasTimestamp, e.HasTiebreak = false, false
	e.Timestamp, e.Tiebreaker = 0, 0
}

// push appends a value to the field at slot and returns it to be filled in
// place (zero), which saves the decoder copying Values through the stack.
func (e *Event) push(slot int) *Value {
	n := len(e.vals)
	if n < cap(e.vals) {
		e.vals = e.vals[:n+1]
		e.vals[n] = valNode{}
	} else {
		e.vals = append(e.vals, valNode{})
	}
	idx := int32(n + 1)
	s := &e.slots[slot]
	if s.head == 0 {
		s.head = idx
	} else {
		e.vals[s.tail-1].next = idx
	}
	s.tail = idx
	return &e.vals[n].v
}

// first returns the first value of a slot.
func (e *Event) first(slot int) (Value, bool) {
	h := e.slots[slot].head
	if h == 0 {
		return Value{}, false
	}
	return e.vals[h-1].v, true
}

// exists reports whether the field has a non-null value.
func (e *Event) exists(slot int) bool {
	for i := e.slots[slot].head; i != 0; i = e.vals[i-1].next {
		if e.vals[i-1].v.Kind != KindNull {
			return true
		}
	}
	return false
}

// Values calls fn for each value of the field at slot, stopping when fn
// returns true; it reports whether fn did.
func (e *Event) anyValue(slot int, fn func(Value) bool) bool {
	for i := e.slots[slot].head; i != 0; i = e.vals[i-1].next {
		if fn(e.vals[i-1].v) {
			return true
		}
	}
	return false
}
