// Package fieldtype knows the Elasticsearch field types of event fields and
// what they mean for a comparison: which fields are dates, IP addresses,
// numbers, versions or booleans, their null_value, and which field names
// exist at all. Its sources are a built-in table of the ECS and Elastic
// Defend (endpoint) fields (ecs.go) and Elasticsearch index mappings as
// `GET <index>/_mapping` returns them (mapping.go). It also holds the value
// parsers those types need (dates as Elasticsearch's default date format
// reads them, versions in Elasticsearch's version order). It knows nothing
// of EQL: package engine resolves a field's type when it compiles a rule, and
// the rule checker uses the names for its "unknown field" warnings.
package fieldtype

import (
	"sort"
	"strings"
)

// Type is an Elasticsearch field type, as far as comparisons care.
type Type uint8

// Field types. Types that compare as strings (keyword, constant_keyword,
// wildcard, text, match_only_text, flattened) are kept apart because the
// checker warns about some of them.
const (
	Unknown Type = iota
	Keyword
	Wildcard
	Text // text, match_only_text: analysed, no exact match
	Date
	DateNanos
	IP
	Long
	Integer
	Short
	Byte
	UnsignedLong
	Double
	Float
	HalfFloat
	ScaledFloat
	Boolean
	Version
	Object // object, nested, flattened: has sub-fields, no scalar value
	Other  // geo_point, binary, ...: compared as written
)

var typeNames = map[string]Type{
	"keyword": Keyword, "constant_keyword": Keyword, "wildcard": Wildcard,
	"text": Text, "match_only_text": Text,
	"date": Date, "date_nanos": DateNanos, "ip": IP,
	"long": Long, "integer": Integer, "short": Short, "byte": Byte, "unsigned_long": UnsignedLong,
	"double": Double, "float": Float, "half_float": HalfFloat, "scaled_float": ScaledFloat,
	"boolean": Boolean, "version": Version,
	"object": Object, "nested": Object, "flattened": Object,
}

// ParseType maps a mapping's "type" to a Type (Other for types that
// compare as written).
func ParseType(s string) Type {
	if t, ok := typeNames[s]; ok {
		return t
	}
	return Other
}

func (t Type) String() string {
	for n, v := range typeNames {
		if v == t && (n != "constant_keyword" && n != "match_only_text" && n != "nested" && n != "flattened") {
			return n
		}
	}
	if t == Other {
		return "other"
	}
	return "unknown"
}

// Numeric reports whether t is a number type.
func (t Type) Numeric() bool { return t >= Long && t <= ScaledFloat }

// Integral reports whether t holds whole numbers only (a value with a
// fraction is truncated when indexed: the mapping's coerce default).
func (t Type) Integral() bool { return t >= Long && t <= UnsignedLong }

// IsDate reports whether t is date or date_nanos.
func (t Type) IsDate() bool { return t == Date || t == DateNanos }

// Stringy reports whether values of t compare as strings.
func (t Type) Stringy() bool { return t == Keyword || t == Wildcard || t == Text }

// Field is one field's type information.
type Field struct {
	Name string
	Type Type
	// NullValue replaces an explicit JSON null (and null array elements)
	// when the document is indexed; nil when the mapping has none.
	NullValue any // string, float64 or bool, as in the mapping
	// Format is a date field's format ("" is Elasticsearch's default,
	// strict_date_optional_time||epoch_millis).
	Format string
	// ScalingFactor of a scaled_float.
	ScalingFactor float64
}

// Schema is a set of typed fields. The zero value is empty; methods on a
// nil *Schema report nothing known.
type Schema struct {
	fields map[string]*Field
	// objects are the object paths (process, process.parent, ...) under
	// which the schema defines fields.
	objects map[string]bool
	// open are top-level names whose sub-fields the schema does not claim
	// to know (integration namespaces, labels.*): no unknown-field warning
	// below them.
	open map[string]bool
}

// New returns an empty schema.
func New() *Schema {
	return &Schema{fields: map[string]*Field{}, objects: map[string]bool{}, open: map[string]bool{}}
}

// Clone returns an independent copy.
func (s *Schema) Clone() *Schema {
	c := New()
	if s == nil {
		return c
	}
	for k, f := range s.fields {
		cp := *f
		c.fields[k] = &cp
	}
	for k := range s.objects {
		c.objects[k] = true
	}
	for k := range s.open {
		c.open[k] = true
	}
	return c
}

// Add adds or replaces a field (and records its parents as objects).
func (s *Schema) Add(f Field) {
	if f.Type == Object {
		s.objects[f.Name] = true
		return
	}
	s.fields[f.Name] = &f
	for i := strings.LastIndexByte(f.Name, '.'); i > 0; i = strings.LastIndexByte(f.Name[:i], '.') {
		s.objects[f.Name[:i]] = true
	}
}

// Open marks a namespace or object (any dotted prefix) whose fields are not
// enumerated.
func (s *Schema) Open(prefix string) { s.open[prefix] = true }

// Lookup returns a field's type information.
func (s *Schema) Lookup(name string) (*Field, bool) {
	if s == nil {
		return nil, false
	}
	f, ok := s.fields[name]
	return f, ok
}

// Type returns a field's type, Unknown when the schema does not have it.
func (s *Schema) Type(name string) Type {
	if f, ok := s.Lookup(name); ok {
		return f.Type
	}
	return Unknown
}

// Known reports whether name is a field or an object of the schema.
func (s *Schema) Known(name string) bool {
	if s == nil {
		return false
	}
	_, ok := s.fields[name]
	return ok || s.objects[name]
}

// Covered reports whether the schema claims to know every field under
// name's top-level namespace (so that a name it lacks is probably a typo).
// Names below an open namespace, and top-level names the schema does not
// have at all, are not covered.
func (s *Schema) Covered(name string) bool {
	if s == nil {
		return false
	}
	top, _, _ := strings.Cut(name, ".")
	if top != "" && 'A' <= top[0] && top[0] <= 'Z' {
		return false // endpoint-only objects (Effective_process, Target, ...)
	}
	for i := 0; ; {
		end := len(name)
		j := strings.IndexByte(name[i:], '.')
		if j >= 0 {
			end = i + j
		}
		if name[i:end] == "Ext" || s.open[name[:end]] {
			return false // an open namespace or object; Elastic Defend's Ext objects
		}
		if j < 0 {
			break
		}
		i = end + 1
	}
	_, isField := s.fields[top]
	return s.objects[top] || isField
}

// Names returns every field name, sorted.
func (s *Schema) Names() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.fields))
	for k := range s.fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TopLevel returns the top-level names (fields and objects), sorted.
func (s *Schema) TopLevel() []string {
	set := map[string]bool{}
	for k := range s.fields {
		top, _, _ := strings.Cut(k, ".")
		set[top] = true
	}
	for k := range s.objects {
		top, _, _ := strings.Cut(k, ".")
		set[top] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Suggest returns up to n known field names (of the schema and extra)
// closest to name: those at the smallest edit distance, at most
// max(2, len/6), in name order.
func (s *Schema) Suggest(name string, extra []string, n int) []string {
	if s == nil && len(extra) == 0 {
		return nil
	}
	limit := max(2, len(name)/6)
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	seen := map[string]bool{}
	try := func(k string) {
		if seen[k] || k == name {
			return
		}
		seen[k] = true
		if d := EditDistance(name, k, limit); d <= limit {
			cs = append(cs, cand{k, d})
		}
	}
	if s != nil {
		for k := range s.fields {
			try(k)
		}
	}
	for _, k := range extra {
		try(k)
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	out := make([]string, 0, n)
	for i := 0; i < len(cs) && i < n && cs[i].d == cs[0].d; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// EditDistance is the Damerau-Levenshtein (optimal string alignment)
// distance of a and b, or limit+1 when it exceeds limit.
func EditDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
