package suppress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"sort"

	"github.com/cespare/xxhash/v2"
	json "github.com/goccy/go-json"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// term is one entry of kibana.alert.suppression.terms.
type term struct {
	Field string `json:"field"`
	Value []any  `json:"value"` // nil encodes as null: the alert has no value
}

// termsOf computes the suppression terms of an alert from the matched
// events in its document ("events", in stage order; refs marks missing
// stages), or from the document itself when it has no "events" (Elastic's
// format). An event alert's value is its event's; a sequence's is the
// value every event of it has (Kibana's shell alert keeps the fields its
// building blocks agree on), else none. missing reports a field without a
// value; host is the host.id term when it has exactly one string value.
func termsOf(doc []byte, refs []uint64, groupBy []string) (terms []byte, missing bool, host string, err error) {
	var a struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(doc, &a); err != nil {
		return nil, false, "", err
	}
	if len(a.Events) == 0 {
		// Elastic's alert format (rules/elasticalert): an event alert
		// holds its event's fields at the top level, and a sequence's
		// shell alert the fields its events agree on, which is the value
		// the terms take here as well (Kibana reads them from that shell).
		a.Events = []json.RawMessage{doc}
		refs = nil
	}
	var evs []map[string]any
	for i, raw := range a.Events {
		if i < len(refs) && refs[i] == engine.MissingRef {
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, false, "", err
		}
		evs = append(evs, m)
	}
	ts := make([]term, len(groupBy))
	for i, f := range groupBy {
		ts[i].Field = f
		var v []any
		for j, ev := range evs {
			ev := values(ev, f)
			if j == 0 {
				v = ev
			} else if !reflect.DeepEqual(v, ev) {
				v = nil
			}
			if v == nil {
				break
			}
		}
		if v == nil {
			missing = true
			continue
		}
		ts[i].Value = v
		if s, ok := v[0].(string); ok && f == "host.id" && len(v) == 1 {
			host = s
		}
	}
	b, err := json.Marshal(ts)
	return b, missing, host, err
}

// values returns a field's non-null values, sorted (nil when there are
// none), finding it in nested objects, dotted keys or a mix.
func values(doc map[string]any, path string) []any {
	v, ok := rules.Lookup(doc, path)
	if !ok || v == nil {
		return nil
	}
	var out []any
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			if x != nil {
				out = append(out, x)
			}
		}
	} else {
		out = []any{v}
	}
	if len(out) == 0 {
		return nil
	}
	sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

// less orders values as lodash's sortBy does for one type: numbers
// numerically, strings by code unit; across types, numbers first, then
// strings, then the rest by their JSON text.
func less(a, b any) bool {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra < rb
	}
	switch x := a.(type) {
	case json.Number:
		fa, _ := x.Float64()
		fb, _ := b.(json.Number).Float64()
		return fa < fb
	case string:
		return x < b.(string)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) < string(jb)
}

func rank(v any) int {
	switch v.(type) {
	case json.Number:
		return 0
	case string:
		return 1
	}
	return 2
}

// termsKey identifies a group: the rule and its terms.
func termsKey(ruleID string, terms []byte) uint64 {
	h := xxhash.New()
	h.WriteString(ruleID)
	h.Write([]byte{0})
	h.Write(terms)
	return h.Sum64()
}

// instanceID is kibana.alert.instance_id: the group, as a hex string.
func instanceID(w *window) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], termsKey(w.rule, w.terms))
	return fmt.Sprintf("%x", b[:])
}
