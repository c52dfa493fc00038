// Package exceptions owns rule exception lists as Kibana exports them: it
// reads the NDJSON of Kibana's exception list _export (a list container,
// then its items, then an export summary line), validates the entries and
// turns each list into the engine's exclusions (engine.Exclusion), which the
// engine applies as Kibana's detection engine applies the exception filter
// to an EQL rule: excluded events take no part in the search.
//
// Semantics follow Kibana's build_exception_filter.ts (imported as
// @kbn/lists-plugin/server/services/exception_lists/build_exception_filter;
// earlier copies lived in security_solution's server and in
// kbn-securitysolution-list-utils), where the filter for a rule is
// must_not(should[item...]):
//
//   - an item matches when all its entries match (bool.filter of the
//     entries, buildExceptionItemFilter); a list, when any item does;
//   - match: match_phrase of the value (buildMatchClause); on keyword fields
//     an exact, case-sensitive comparison;
//   - match_any: should of match_phrase, one per value (getBaseMatchAnyClause);
//   - wildcard: a `wildcard` query without case_insensitive
//     (buildMatchWildcardClause): `*`, `?`, `\` escapes; case-sensitive;
//   - exists: an `exists` query (buildExistsClause);
//   - operator "excluded": must_not of the entry's clause
//     (buildExclusionClause);
//   - nested: a nested query on the entry's field whose inner entries must
//     all match one element (buildNestedClause, getBaseNestedClause);
//   - os_types: the item becomes an OR over the os types, each with
//     host.os.type == os, and again with host.os.name.caseless == os, joined
//     to the entries (transformOsType, buildExceptionItemFilterWithOsType);
//   - value-list entries (type "list") need Kibana's value lists and are
//     refused with an error naming the list.
//
// expire_time: Kibana's buildExceptionFilter is given the rule execution's
// start, a wall-clock instant (security_solution rule_types/utils/
// exception_filter_provider.ts passes startedAt: new Date()); we read that
// as items whose expire_time is not after it being left out (the copies of
// build_exception_filter.ts we could read predate the parameter, so this is
// our reading, not a quotation). A stream has no execution start, and a
// wall-clock comparison would make offline and online answers differ; we
// compare against the event's own timestamp instead: an item applies to
// events whose @timestamp is before its expire_time. For an event searched
// shortly after it happened (Kibana's look-back) both readings agree.
package exceptions

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/eqlstream/eqlstream/rules/engine"
)

// Namespace types of a list: "single" (one Kibana space) or "agnostic" (all
// spaces).
const (
	NamespaceSingle   = "single"
	NamespaceAgnostic = "agnostic"
)

// Errors wrapped by the loader's *Error.
var (
	ErrSyntax       = errors.New("invalid JSON")
	ErrEntry        = errors.New("invalid exception entry")
	ErrValueList    = errors.New("value lists are not supported")
	ErrDuplicate    = errors.New("duplicate exception list")
	ErrUnknownList  = errors.New("item of an undefined list")
	ErrNotException = errors.New("not an exception list export line")
)

// Error is a problem at one line of an export file.
type Error struct {
	Path string
	Line int
	Msg  string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// List is one exception list: the container and its items.
type List struct {
	ID            string // the container's saved-object id
	ListID        string
	Name          string
	Type          string // detection, endpoint, rule_default, ...
	NamespaceType string // single or agnostic
	Items         []Item
	Path          string // the file it came from
	Line          int    // the container's line
}

// Item is one exception item.
type Item struct {
	ItemID     string
	Name       string
	OSTypes    []string
	ExpireTime time.Time // zero: never expires
	Entries    []Entry
	Line       int
}

// Entry is one entry of an item, as exported.
type Entry struct {
	Type     string // match, match_any, wildcard, exists, nested, list
	Field    string
	Operator string // included or excluded ("" inside nested)
	Value    []string
	Entries  []Entry // nested
	ListRef  string  // the value list id of a "list" entry
}

// Set is the exception lists loaded from files, by namespace and list_id.
type Set struct {
	lists map[key]*List
	order []key
}

type key struct{ ns, id string }

// NewSet returns an empty set.
func NewSet() *Set { return &Set{lists: map[key]*List{}} }

// Lists returns the lists in load order.
func (s *Set) Lists() []*List {
	out := make([]*List, len(s.order))
	for i, k := range s.order {
		out[i] = s.lists[k]
	}
	return out
}

// Load reads export files into a new set.
func Load(paths ...string) (*Set, error) {
	s := NewSet()
	var errs []error
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = s.Read(p, f)
		f.Close()
		if err != nil {
			errs = append(errs, err)
		}
	}
	return s, errors.Join(errs...)
}

// Lookup finds a list by namespace type and list_id; an empty namespace
// matches either, if only one list has that id.
func (s *Set) Lookup(ns, listID string) (*List, bool) {
	if ns != "" {
		l, ok := s.lists[key{ns, listID}]
		return l, ok
	}
	var found *List
	for _, n := range []string{NamespaceSingle, NamespaceAgnostic} {
		if l, ok := s.lists[key{n, listID}]; ok {
			if found != nil {
				return nil, false
			}
			found = l
		}
	}
	return found, found != nil
}

// wire is one export line: a container, an item or the export summary.
type wire struct {
	ID            string          `json:"id"`
	ListID        *string         `json:"list_id"`
	ItemID        *string         `json:"item_id"`
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	NamespaceType string          `json:"namespace_type"`
	OSTypes       []string        `json:"os_types"`
	ExpireTime    *string         `json:"expire_time"`
	Entries       json.RawMessage `json:"entries"`
	// the export summary line
	ExportedListCount *int `json:"exported_exception_list_count"`
}

type wireEntry struct {
	Type     string          `json:"type"`
	Field    string          `json:"field"`
	Operator string          `json:"operator"`
	Value    json.RawMessage `json:"value"`
	Entries  []wireEntry     `json:"entries"`
	List     *struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"list"`
}

// Read reads one export file into the set. Every bad line is reported with
// its line number; lists defined twice (same namespace and list_id) are an
// error naming both places.
func (s *Set) Read(path string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var errs []error
	fail := func(line int, cause error, format string, args ...any) {
		errs = append(errs, &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...), Err: cause})
	}
	byListID := map[string]*List{} // lists of this file by list_id, for items
	line := 0
	for {
		raw, rerr := br.ReadBytes('\n')
		if len(raw) > 0 {
			line++
			raw = bytes.TrimSpace(raw)
			if len(raw) > 0 {
				s.readLine(path, line, raw, byListID, fail)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, rerr))
			break
		}
	}
	return errors.Join(errs...)
}

func (s *Set) readLine(path string, line int, raw []byte, byListID map[string]*List, fail func(int, error, string, ...any)) {
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		fail(line, ErrSyntax, "invalid JSON: %v", err)
		return
	}
	switch {
	case w.ExportedListCount != nil:
		return // the export summary line
	case w.ListID == nil || *w.ListID == "":
		fail(line, ErrNotException, "neither an exception list nor an item (no list_id)")
		return
	}
	ns := w.NamespaceType
	if ns == "" {
		ns = NamespaceSingle // Kibana's default
	}
	if ns != NamespaceSingle && ns != NamespaceAgnostic {
		fail(line, ErrNotException, "namespace_type %q: want single or agnostic", ns)
		return
	}
	if w.ItemID == nil && w.Entries == nil {
		k := key{ns, *w.ListID}
		if prev, dup := s.lists[k]; dup {
			fail(line, ErrDuplicate, "exception list %q (%s) also defined at %s:%d", *w.ListID, ns, prev.Path, prev.Line)
			return
		}
		l := &List{ID: w.ID, ListID: *w.ListID, Name: w.Name, Type: w.Type, NamespaceType: ns, Path: path, Line: line}
		s.lists[k] = l
		s.order = append(s.order, k)
		byListID[*w.ListID] = l
		return
	}
	l := byListID[*w.ListID]
	if l == nil || l.NamespaceType != ns {
		fail(line, ErrUnknownList, "item %s: list %q (%s) is not defined earlier in this file (an export has the list before its items)", str(w.ItemID), *w.ListID, ns)
		return
	}
	it := Item{ItemID: str(w.ItemID), Name: w.Name, OSTypes: w.OSTypes, Line: line}
	if w.ExpireTime != nil && *w.ExpireTime != "" {
		t, err := time.Parse(time.RFC3339Nano, *w.ExpireTime)
		if err != nil {
			fail(line, ErrEntry, "item %s: expire_time %q: want an ISO 8601 date-time", it.ItemID, *w.ExpireTime)
			return
		}
		it.ExpireTime = t
	}
	var wes []wireEntry
	if err := json.Unmarshal(w.Entries, &wes); err != nil || len(wes) == 0 {
		fail(line, ErrEntry, "item %s: entries must be a non-empty array of entries", it.ItemID)
		return
	}
	for i, we := range wes {
		en, err := entryOf(we, false)
		if err != nil {
			fail(line, errors.Unwrap(err), "item %s: entries[%d]: %v", it.ItemID, i, err)
			return
		}
		it.Entries = append(it.Entries, en)
	}
	l.Items = append(l.Items, it)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func entryOf(we wireEntry, inNested bool) (Entry, error) {
	en := Entry{Type: we.Type, Field: we.Field, Operator: we.Operator}
	bad := func(format string, args ...any) (Entry, error) {
		return Entry{}, fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrEntry)
	}
	if we.Field == "" {
		return bad("%s entry without a field", we.Type)
	}
	switch {
	case we.Type == "nested":
		if we.Operator != "" && we.Operator != "included" {
			return bad("nested field %s: operator %q: a nested entry has none", we.Field, we.Operator)
		}
		en.Operator = "included"
	case we.Operator == "included" || we.Operator == "excluded":
	case we.Operator == "":
		return bad("field %s: missing operator (included or excluded)", we.Field)
	default:
		return bad("field %s: operator %q: want included or excluded", we.Field, we.Operator)
	}
	strVal := func() (string, error) {
		var v string
		if err := json.Unmarshal(we.Value, &v); err != nil || v == "" {
			return "", fmt.Errorf("field %s: %s wants a non-empty string value: %w", we.Field, we.Type, ErrEntry)
		}
		return v, nil
	}
	switch we.Type {
	case "match", "wildcard":
		v, err := strVal()
		if err != nil {
			return Entry{}, err
		}
		en.Value = []string{v}
	case "match_any":
		var vs []string
		if err := json.Unmarshal(we.Value, &vs); err != nil || len(vs) == 0 {
			return bad("field %s: match_any wants a non-empty array of strings", we.Field)
		}
		en.Value = vs
	case "exists":
	case "nested":
		if inNested {
			return bad("field %s: nested inside nested", we.Field)
		}
		if len(we.Entries) == 0 {
			return bad("nested field %s: no entries", we.Field)
		}
		for _, c := range we.Entries {
			ce, err := entryOf(c, true)
			if err != nil {
				return Entry{}, err
			}
			en.Entries = append(en.Entries, ce)
		}
	case "list":
		id := ""
		if we.List != nil {
			id = we.List.ID
		}
		return Entry{}, fmt.Errorf("field %s: entry refers to value list %q: %w (replace it with a match_any entry)", we.Field, id, ErrValueList)
	case "":
		return bad("field %s: entry without a type", we.Field)
	default:
		return bad("field %s: unknown entry type %q (want match, match_any, wildcard, exists, nested or list)", we.Field, we.Type)
	}
	if inNested {
		switch we.Type {
		case "match", "match_any", "exists":
		default:
			return bad("field %s: %s is not allowed inside nested (match, match_any or exists)", we.Field, we.Type)
		}
	}
	return en, nil
}

// osFields are the fields Kibana tests an item's os_types against
// (transformOsType).
var osFields = []string{"host.os.type", "host.os.name.caseless"}

// Exclusions converts the list into the engine's exclusions.
func (l *List) Exclusions() []engine.Exclusion {
	var out []engine.Exclusion
	for _, it := range l.Items {
		var exp int64
		if !it.ExpireTime.IsZero() {
			exp = it.ExpireTime.UnixNano()
		}
		es := engineEntries(it.Entries)
		if len(it.OSTypes) == 0 {
			out = append(out, engine.Exclusion{List: l.ListID, Item: it.ItemID, Entries: es, Expires: exp})
			continue
		}
		osTypes := append([]string(nil), it.OSTypes...)
		sort.Strings(osTypes)
		for _, f := range osFields {
			withOS := append([]engine.Entry{{Kind: engine.EntryMatchAny, Field: f, Values: osTypes}}, es...)
			out = append(out, engine.Exclusion{List: l.ListID, Item: it.ItemID, Entries: withOS, Expires: exp})
		}
	}
	return out
}

func engineEntries(es []Entry) []engine.Entry {
	out := make([]engine.Entry, 0, len(es))
	for _, e := range es {
		ee := engine.Entry{Field: e.Field, Values: e.Value, Negate: e.Operator == "excluded"}
		switch e.Type {
		case "match":
			ee.Kind = engine.EntryMatch
		case "match_any":
			ee.Kind = engine.EntryMatchAny
		case "wildcard":
			ee.Kind = engine.EntryWildcard
		case "exists":
			ee.Kind = engine.EntryExists
		case "nested":
			ee.Kind = engine.EntryNested
			ee.Entries = engineEntries(e.Entries)
		}
		out = append(out, ee)
	}
	return out
}

// String names the list for messages: list_id (namespace).
func (l *List) String() string {
	return fmt.Sprintf("%s (%s)", l.ListID, strings.ToLower(l.NamespaceType))
}
