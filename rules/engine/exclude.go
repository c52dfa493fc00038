package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Exclusions: the exception items attached to a rule (package
// rules/exceptions reads them from Kibana's exception lists). An event that
// matches one of a rule's exclusions takes no part in that rule's search:
// Kibana puts the exception filter into the EQL request's filter as a
// must_not (security_solution server lib/detection_engine/rule_types/eql/
// build_eql_search_request.ts: getQueryFilter(..., exceptionFilter) inside
// body.filter), so Elasticsearch never sees the event when it builds
// sequences. Here the exclusion is checked for an event that satisfies a
// stage condition of the rule, before the event fills any stage, `until`
// or missing-event stage — for a sequence that is not the same as dropping
// alerts afterwards: a later event can complete the sequence instead.

// EntryKind is the type of an exclusion entry.
type EntryKind uint8

// Entry kinds, after Kibana's exception entry types.
const (
	EntryMatch    EntryKind = iota + 1 // the field has the value (match_phrase on a keyword: exact, case-sensitive)
	EntryMatchAny                      // the field has one of the values
	EntryWildcard                      // a value of the field matches the pattern (Elasticsearch `wildcard` query)
	EntryExists                        // the field has a value
	EntryNested                        // one element of the array of objects at Field matches all Entries
)

// Entry is one condition of an exclusion.
type Entry struct {
	Kind   EntryKind
	Field  string
	Values []string // one value for match and wildcard; the values of match_any
	Negate bool     // operator "excluded"
	// Entries are the conditions of a nested entry, their fields relative to
	// Field.
	Entries []Entry
}

// Exclusion is one exception item: an event that matches all its entries
// (an item with no entries matches nothing) takes no part in the rule.
type Exclusion struct {
	List    string // list_id, for counting
	Item    string // item_id, for errors
	Entries []Entry
	// Expires, when not zero, is the item's expire_time in Unix
	// nanoseconds: the item applies to events whose timestamp is before it.
	Expires int64
}

// ExclusionCount is the number of events a rule left out because of one of
// its exception lists.
type ExclusionCount struct {
	RuleID, List string
	Events       uint64
}

// exclusion is a rule's compiled exclusions.
type exclusion struct {
	items []exclItem
	lists []string // distinct list ids, counter index order
	base  int      // index of the rule's first counter in Engine.excluded
}

type exclItem struct {
	list    int // index into exclusion.lists
	expires int64
	pred    func(c *ctx) bool
}

// compileExclusions compiles a rule's exclusions; fields are resolved to
// slots and patterns compiled once.
func (p *Program) compileExclusions(xs []Exclusion) (*exclusion, error) {
	if len(xs) == 0 {
		return nil, nil
	}
	x := &exclusion{}
	listIdx := map[string]int{}
	for _, it := range xs {
		if len(it.Entries) == 0 {
			continue // Kibana's schema requires entries; nothing to match
		}
		li, ok := listIdx[it.List]
		if !ok {
			li = len(x.lists)
			listIdx[it.List] = li
			x.lists = append(x.lists, it.List)
		}
		var preds []func(c *ctx) bool
		for _, en := range it.Entries {
			pr, err := p.entryPred(en)
			if err != nil {
				return nil, fmt.Errorf("exception list %s item %s: %w", it.List, it.Item, err)
			}
			preds = append(preds, pr)
		}
		x.items = append(x.items, exclItem{list: li, expires: it.Expires, pred: allOf(preds)})
	}
	if len(x.items) == 0 {
		return nil, nil
	}
	return x, nil
}

func allOf(ps []func(c *ctx) bool) func(c *ctx) bool {
	if len(ps) == 1 {
		return ps[0]
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

// valueTest tests one scalar value.
type valueTest func(v Value) bool

// valueTestOf compiles the value condition of a match, match_any or
// wildcard entry.
func valueTestOf(en Entry) (valueTest, error) {
	switch en.Kind {
	case EntryMatch, EntryMatchAny:
		if len(en.Values) == 0 {
			return nil, fmt.Errorf("field %s: no value", en.Field)
		}
		strs := make(map[string]struct{}, len(en.Values))
		var nums []float64
		var nets []netip.Prefix
		for _, s := range en.Values {
			strs[s] = struct{}{}
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				nums = append(nums, f)
			}
			// on an ip field a term is a CIDR block (match_phrase becomes a
			// term query there)
			if pf, err := netip.ParsePrefix(s); err == nil {
				nets = append(nets, pf.Masked())
			}
		}
		return func(v Value) bool {
			switch v.Kind {
			case KindString:
				if _, ok := strs[string(v.Str)]; ok { // no allocation: map index by converted bytes
					return true
				}
				if len(nets) > 0 && looksLikeIP(v.Str) {
					if a, err := netip.ParseAddr(bstr(v.Str)); err == nil {
						for _, n := range nets {
							if n.Contains(a.Unmap()) {
								return true
							}
						}
					}
				}
			case KindNumber:
				// a numeric field: match_phrase "10" finds 10 and 10.0
				for _, f := range nums {
					if f == v.Num {
						return true
					}
				}
			case KindBool:
				_, ok := strs[strconv.FormatBool(v.Bool)]
				return ok
			}
			return false
		}, nil
	case EntryWildcard:
		if len(en.Values) != 1 {
			return nil, fmt.Errorf("field %s: a wildcard entry has one pattern", en.Field)
		}
		m, err := compileESWildcard(en.Values[0])
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", en.Field, err)
		}
		return func(v Value) bool { return v.Kind == KindString && m(v.Str) }, nil
	}
	return nil, fmt.Errorf("field %s: entry kind %d has no value test", en.Field, en.Kind)
}

// compileESWildcard compiles the pattern of an Elasticsearch `wildcard`
// query: `*` any run, `?` one character, `\` escapes the next character.
// Kibana's wildcard clause sets no case_insensitive, so matching is
// case-sensitive (build_exception_filter.ts, buildMatchWildcardClause).
func compileESWildcard(p string) (func([]byte) bool, error) {
	if !strings.Contains(p, `\`) {
		w := compileWildcard(p, false)
		return w.match, nil
	}
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(p[i : i+1]))
			} else {
				b.WriteString(`\\`)
			}
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString(`\z`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("wildcard %q: %w", p, err)
	}
	return re.Match, nil
}

// entryPred compiles a top-level entry over the event's slots.
func (p *Program) entryPred(en Entry) (func(c *ctx) bool, error) {
	if en.Field == "" {
		return nil, errors.New("entry without a field")
	}
	var pr func(c *ctx) bool
	switch en.Kind {
	case EntryMatch, EntryMatchAny, EntryWildcard:
		t, err := valueTestOf(en)
		if err != nil {
			return nil, err
		}
		slot := p.sch.slot(en.Field)
		pr = func(c *ctx) bool {
			ev := c.ev
			for i := ev.slots[slot].head; i != 0; i = ev.vals[i-1].next {
				if t(ev.vals[i-1].v) {
					return true
				}
			}
			return false
		}
	case EntryExists:
		slot := p.sch.slot(en.Field)
		pr = func(c *ctx) bool { return c.ev.exists(slot) }
	case EntryNested:
		var err error
		if pr, err = p.nestedPred(en); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("field %s: unknown entry kind %d", en.Field, en.Kind)
	}
	if en.Negate {
		q := pr
		return func(c *ctx) bool { return !q(c) }, nil
	}
	return pr, nil
}

// nestedPred compiles a nested entry: Elasticsearch's nested query matches
// when one element of the array of objects at the path matches every inner
// condition (buildNestedClause: nested{path, query: bool.filter[...]}).
// The event representation flattens arrays, so the element-wise check reads
// the path from the raw event; it runs only when the flattened values pass
// the inner conditions that are necessary for any element to match (the
// non-negated ones), which keeps events that cannot match free of
// allocation.
func (p *Program) nestedPred(en Entry) (func(c *ctx) bool, error) {
	if len(en.Entries) == 0 {
		return nil, fmt.Errorf("nested field %s: no entries", en.Field)
	}
	type inner struct {
		path []string
		kind EntryKind
		test valueTest
		neg  bool
	}
	var ins []inner
	var pre []func(c *ctx) bool
	for _, e := range en.Entries {
		if e.Field == "" {
			return nil, fmt.Errorf("nested field %s: entry without a field", en.Field)
		}
		in := inner{path: strings.Split(e.Field, "."), kind: e.Kind, neg: e.Negate}
		switch e.Kind {
		case EntryMatch, EntryMatchAny, EntryWildcard:
			t, err := valueTestOf(Entry{Kind: e.Kind, Field: en.Field + "." + e.Field, Values: e.Values})
			if err != nil {
				return nil, err
			}
			in.test = t
		case EntryExists:
		default:
			return nil, fmt.Errorf("nested field %s: entry %s of type %s is not allowed inside nested (match, match_any, wildcard, exists)", en.Field, e.Field, e.Kind)
		}
		ins = append(ins, in)
		if !e.Negate {
			pr, err := p.entryPred(Entry{Kind: e.Kind, Field: en.Field + "." + e.Field, Values: e.Values})
			if err != nil {
				return nil, err
			}
			pre = append(pre, pr)
		}
	}
	parent := strings.Split(en.Field, ".")
	elementMatches := func(obj map[string]any) bool {
		for _, in := range ins {
			vals := lookupJSON(obj, in.path, nil)
			var ok bool
			if in.kind == EntryExists {
				for _, v := range vals {
					if v != nil {
						ok = true
						break
					}
				}
			} else {
				for _, v := range vals {
					if in.test(jsonValue(v)) {
						ok = true
						break
					}
				}
			}
			if ok == in.neg {
				return false
			}
		}
		return true
	}
	return func(c *ctx) bool {
		for _, q := range pre {
			if !q(c) {
				return false
			}
		}
		var doc map[string]any
		if json.Unmarshal(c.ev.Raw, &doc) != nil {
			return false
		}
		for _, el := range lookupJSON(doc, parent, nil) {
			if obj, ok := el.(map[string]any); ok && elementMatches(obj) {
				return true
			}
		}
		return false
	}, nil
}

// lookupJSON appends the values at path in a decoded JSON object, flattening
// arrays of the leaf and of the objects along the path; keys may be dotted
// ("process.name" at the top level) as in the event decoder.
func lookupJSON(obj map[string]any, path []string, out []any) []any {
	for n := len(path); n >= 1; n-- {
		v, ok := obj[strings.Join(path[:n], ".")]
		if !ok {
			continue
		}
		if n == len(path) {
			out = appendFlat(out, v)
			continue
		}
		for _, x := range appendFlat(nil, v) {
			if m, ok := x.(map[string]any); ok {
				out = lookupJSON(m, path[n:], out)
			}
		}
	}
	return out
}

func appendFlat(out []any, v any) []any {
	if a, ok := v.([]any); ok {
		for _, x := range a {
			out = appendFlat(out, x)
		}
		return out
	}
	return append(out, v)
}

// jsonValue converts a decoded JSON scalar to a Value.
func jsonValue(v any) Value {
	switch x := v.(type) {
	case string:
		return Value{Kind: KindString, Str: []byte(x)}
	case float64:
		return Value{Kind: KindNumber, Num: x}
	case bool:
		return Value{Kind: KindBool, Bool: x}
	case map[string]any:
		return Value{Kind: KindObject}
	}
	return Value{}
}

func (k EntryKind) String() string {
	switch k {
	case EntryMatch:
		return "match"
	case EntryMatchAny:
		return "match_any"
	case EntryWildcard:
		return "wildcard"
	case EntryExists:
		return "exists"
	case EntryNested:
		return "nested"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// excludes reports whether the event is excluded from rule r, evaluating
// the rule's exclusions at most once per event, and counts it.
func (e *Engine) excludes(r *Rule) bool {
	x := r.excl
	if x == nil {
		return false
	}
	m := &e.exclMemo[r.index]
	if *m>>1 == e.seq {
		return *m&1 != 0
	}
	*m = e.seq << 1
	ts := e.ev.Timestamp
	for i := range x.items {
		it := &x.items[i]
		if it.expires != 0 && ts >= it.expires {
			continue // expired for this event (see Exclusion.Expires)
		}
		if it.pred(&e.c) {
			*m |= 1
			e.stats.Excluded++
			e.excluded[x.base+it.list]++
			return true
		}
	}
	return false
}

// ExcludedCounts returns the events each rule left out, per exception list,
// in rule order then list order; lists that excluded nothing are included
// with zero.
func (e *Engine) ExcludedCounts() []ExclusionCount {
	var out []ExclusionCount
	for _, r := range e.p.rules {
		if r.excl == nil {
			continue
		}
		for i, l := range r.excl.lists {
			out = append(out, ExclusionCount{RuleID: r.ID, List: l, Events: e.excluded[r.excl.base+i]})
		}
	}
	return out
}

// hashExclusions writes the exclusions into the program hash.
func hashExclusions(w io.Writer, xs []Exclusion) {
	var entries func(es []Entry)
	entries = func(es []Entry) {
		for _, en := range es {
			fmt.Fprintf(w, "e%d\x00%s\x00%t\x00%d\x00", en.Kind, en.Field, en.Negate, len(en.Values))
			for _, v := range en.Values {
				fmt.Fprintf(w, "%s\x00", v)
			}
			fmt.Fprintf(w, "n%d\x00", len(en.Entries))
			entries(en.Entries)
		}
	}
	for _, x := range xs {
		fmt.Fprintf(w, "x%s\x00%s\x00%d\x00%d\x00", x.List, x.Item, x.Expires, len(x.Entries))
		entries(x.Entries)
	}
}

// looksLikeIP is a cheap test before netip.ParseAddr, whose error for a
// value that is not an address allocates.
func looksLikeIP(b []byte) bool {
	if len(b) < 2 || len(b) > 45 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
