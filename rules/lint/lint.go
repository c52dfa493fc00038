// Package lint checks a parsed rule against the field schema
// (rules/fieldtype): fields no schema knows (with "did you mean"
// suggestions), event categories ECS does not define, pattern and equality
// operators a field's type cannot serve, and `?` on fields every event has.
// It only reports: the warnings are for `processor check`, and a rule with
// warnings still compiles and runs as Elasticsearch would run it.
package lint

import (
	"fmt"
	"sort"
	"strings"

	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
)

// Options says what the rule is checked against.
type Options struct {
	Types *fieldtype.Schema // built-in ECS types plus --mapping files
	// Known are more field names that exist (the rule's required_fields).
	Known []string
	// Always are fields every event has (the timestamp, category and
	// tiebreaker fields the EQL search requires, --required-field).
	Always []string
	// CategoryOverride: the rule reads its category from another field
	// (event_category_override), whose values are not ECS categories.
	CategoryOverride bool
}

// ECSCategories are the allowed values of event.category (ECS 8.17).
var ECSCategories = []string{"api", "authentication", "configuration", "database", "driver", "email", "file", "host",
	"iam", "intrusion_detection", "library", "malware", "network", "package", "process", "registry", "session",
	"threat", "vulnerability", "web"}

// Rule returns the schema warnings for st.
func Rule(st *eql.Statement, src *eql.Source, o Options) eql.Errors {
	l := &linter{src: src, o: o, known: map[string]bool{}, always: map[string]bool{}, seen: map[string]bool{}}
	for _, k := range o.Known {
		l.known[k] = true
	}
	for _, k := range o.Always {
		l.always[k] = true
	}
	for _, q := range queries(st) {
		l.category(q.Query, q.Pos)
		for _, f := range q.By {
			l.field(f)
		}
		if q.Query != nil {
			l.expr(q.Query.Where)
		}
	}
	sort.SliceStable(l.out, func(i, j int) bool { return l.out[i].Pos < l.out[j].Pos })
	return l.out
}

type linter struct {
	src    *eql.Source
	o      Options
	known  map[string]bool
	always map[string]bool
	seen   map[string]bool // unknown fields reported once per rule
	out    eql.Errors
}

func (l *linter) warnf(p eql.Pos, format string, args ...any) {
	l.out = append(l.out, &eql.Error{Src: l.src, Pos: p, Msg: fmt.Sprintf(format, args...)})
}

type stageQuery struct {
	Pos   eql.Pos
	Query *eql.EventQuery
	By    []*eql.Field
}

// queries returns every event query of st with its join keys.
func queries(st *eql.Statement) []stageQuery {
	var out []stageQuery
	if st == nil {
		return nil
	}
	add := func(hdr []*eql.Field, ss []*eql.Stage) {
		for _, s := range ss {
			if s != nil {
				out = append(out, stageQuery{Pos: s.Pos, Query: s.Query, By: append(append([]*eql.Field{}, hdr...), s.By...)})
			}
		}
	}
	switch q := st.Query.(type) {
	case *eql.EventQuery:
		if q != nil {
			out = append(out, stageQuery{Pos: q.Pos, Query: q})
		}
	case *eql.SequenceQuery:
		add(q.By, q.Stages)
		if q.Until != nil {
			add(q.By, []*eql.Stage{q.Until})
		}
	case *eql.SampleQuery:
		add(q.By, q.Stages)
	}
	return out
}

func (l *linter) category(q *eql.EventQuery, at eql.Pos) {
	if q == nil || q.Any || l.o.CategoryOverride {
		return
	}
	for _, c := range ECSCategories {
		if c == q.Category {
			return
		}
	}
	msg := fmt.Sprintf("unknown event category %s: ECS defines %s", q.Category, strings.Join(ECSCategories, ", "))
	if s := closest(q.Category, ECSCategories); s != "" {
		msg = fmt.Sprintf("unknown event category %s; did you mean %s?", q.Category, s)
	}
	p := q.Pos
	if p == 0 {
		p = at
	}
	l.warnf(p, "%s", msg)
}

func (l *linter) expr(e eql.Expr) {
	switch x := e.(type) {
	case *eql.Field:
		l.field(x)
	case *eql.Binary:
		l.expr(x.Left)
		l.expr(x.Right)
		if x.Op == eql.OpEq || x.Op == eql.OpNeq {
			l.textEquality(x.Left, x.Right, x.Op.String())
			l.textEquality(x.Right, x.Left, x.Op.String())
		}
	case *eql.Not:
		l.expr(x.X)
	case *eql.Neg:
		l.expr(x.X)
	case *eql.In:
		l.expr(x.X)
		for _, v := range x.List {
			l.expr(v)
		}
		if len(x.List) > 0 {
			l.textEquality(x.X, x.List[0], "in")
		}
	case *eql.Match:
		l.expr(x.X)
		l.pattern(x)
	case *eql.Call:
		for _, a := range x.Args {
			l.expr(a)
		}
	}
}

// field warns about a name no schema knows, and `?` on a field every
// event has.
func (l *linter) field(f *eql.Field) {
	if f == nil {
		return
	}
	name := f.Name()
	if f.Optional && l.always[name] {
		l.warnf(f.Pos, "optional ? on a field every event has (?%s): the EQL search requires it in every index, so ? changes nothing", name)
	}
	if l.known[name] || l.o.Types.Known(name) || l.seen[name] {
		return
	}
	if l.o.Types.Covered(name) {
		l.seen[name] = true
		l.unknown(f.Pos, name, l.o.Types.Suggest(name, l.o.Known, 3))
		return
	}
	// an unknown top-level name close to a known one: "proces.name"
	top, rest, _ := strings.Cut(name, ".")
	if len(top) < 4 || l.o.Types.Known(top) {
		return
	}
	if s := closest(top, l.o.Types.TopLevel()); s != "" {
		l.seen[name] = true
		fixed := s
		if rest != "" {
			fixed += "." + rest
		}
		l.unknown(f.Pos, name, []string{fixed})
	}
}

func (l *linter) unknown(p eql.Pos, name string, sugg []string) {
	if len(sugg) > 0 {
		l.warnf(p, "unknown field %s; did you mean %s? (not in ECS %s, the endpoint fields, --mapping or the rule's required_fields)",
			name, strings.Join(sugg, " or "), fieldtype.ECSVersion)
		return
	}
	l.warnf(p, "unknown field %s: not in ECS %s, the endpoint fields, --mapping or the rule's required_fields",
		name, fieldtype.ECSVersion)
}

// textEquality warns about == / in on a text field (analysed: Elasticsearch
// has no exact value to compare, and its EQL verifier refuses it).
func (l *linter) textEquality(x, other eql.Expr, op string) {
	f, ok := x.(*eql.Field)
	if !ok {
		return
	}
	if lit, ok := other.(*eql.Literal); ok && lit.Kind == eql.LitNull {
		return
	}
	if t := l.o.Types.Type(f.Name()); t == fieldtype.Text && !l.o.Types.Known(f.Name()+".keyword") {
		l.warnf(f.Pos, "equality on a text field can never be true (%s on %s): a text field has no exact value (Elasticsearch refuses the query; use its keyword sub-field)", op, f.Name())
	}
}

// pattern warns about :, like and regex on a field Elasticsearch cannot
// run a wildcard or regexp query on (dates, numbers, ip, boolean).
func (l *linter) pattern(m *eql.Match) {
	f, ok := m.X.(*eql.Field)
	if !ok {
		return
	}
	t := l.o.Types.Type(f.Name())
	if t == fieldtype.Unknown || t.Stringy() || t == fieldtype.Version || t == fieldtype.Other || t == fieldtype.Object {
		return
	}
	op := [...]string{":", "like", "regex"}[m.Kind]
	l.warnf(f.Pos, "pattern on a non-string field can never be true (%s on %s, a %s field): Elasticsearch runs wildcard and regexp queries on keyword, wildcard and text fields only (compare with ==, in or cidrmatch)", op, f.Name(), t)
}

// closest returns the candidate within two edits of s (one for short
// names), or "".
func closest(s string, cands []string) string {
	limit := 2
	if len(s) <= 5 {
		limit = 1
	}
	best, bestD := "", limit+1
	for _, c := range cands {
		if c == s {
			return ""
		}
		if d := fieldtype.EditDistance(s, c, limit); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
