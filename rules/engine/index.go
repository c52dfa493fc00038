package engine

import (
	"bytes"
	"math/bits"
	"slices"
	"strings"

	"github.com/eqlstream/eqlstream/rules/eql"
)

// The rule index. Besides the event category, most stages require a field
// to hold one of a few constants, or to start with one of a few prefixes:
// `process.name == "chmod"`, `process.name in ("sh", "bash")`,
// `file.extension : "sh"`, `process.name : ("python*", "perl")`, as a
// conjunct of the where clause or on every side of a disjunction. The index
// keeps, per category, maps from such constants and prefixes to the stages
// that need them, and the stages without a need; an event meets the stages
// its field values select, plus the rest.
//
// A need must be implied by the stage's predicate under the compiler's exact
// semantics (compile.go): equality on strings is byte equality except for
// numbers, IP addresses and booleans, which is why constants that read as
// one of those are never indexed. The index may return extra candidates,
// never miss one; TestDifferentialIndex and the TestIndexDifferential tests
// compare it with the index-off path.

// need says that a predicate can only hold when the field at slot has a
// string (or number) value whose bytes, lower-cased when fold, are one of
// keys or start with one of prefixes.
type need struct {
	slot     int
	fold     bool
	keys     []string
	prefixes []string
}

// clause is a disjunction of needs (at most one per slot): a predicate
// implying it can only hold when one of its needs is met.
type clause []need

// maxPrefix caps indexed prefixes: longer ones are indexed by their start.
const maxPrefix = 4

// needsOf returns clauses implied by e (a conjunction: each is necessary).
func needsOf(sch *schema, e eql.Expr) []clause {
	switch x := e.(type) {
	case *eql.Binary:
		switch x.Op {
		case eql.OpAnd:
			var out []clause
			for _, c := range flatten(x, eql.OpAnd) {
				out = append(out, needsOf(sch, c)...)
			}
			return out
		case eql.OpOr:
			// Each side implies its best clause; the disjunction implies
			// their union.
			var out clause
			for _, c := range flatten(x, eql.OpOr) {
				best, ok := bestClause(sch, needsOf(sch, c))
				if !ok {
					return nil
				}
				for _, n := range best {
					out = addNeed(out, n)
				}
			}
			return []clause{out}
		case eql.OpEq:
			f, lit := fieldLit(x.Left, x.Right)
			if f == nil || lit.Kind != eql.LitString || !plainKey(lit.Str) {
				return nil
			}
			return oneNeed(need{slot: fieldSlot(sch, f), keys: []string{lit.Str}})
		}
	case *eql.In:
		f, ok := x.X.(*eql.Field)
		if !ok || x.Negated || len(x.List) == 0 {
			return nil
		}
		n := need{slot: fieldSlot(sch, f), fold: x.CaseInsensitive}
		for _, item := range x.List {
			l, ok := item.(*eql.Literal)
			if !ok || l.Kind != eql.LitString || !plainKey(l.Str) {
				return nil
			}
			k := l.Str
			if n.fold {
				k = lowerString(k)
			}
			n.keys = append(n.keys, k)
		}
		return oneNeed(n)
	case *eql.Match:
		f, ok := x.X.(*eql.Field)
		if !ok || x.Kind == eql.MatchRegex || len(x.Patterns) == 0 {
			return nil
		}
		n := need{slot: fieldSlot(sch, f), fold: x.CaseInsensitive}
		for _, l := range x.Patterns {
			w := compileWildcard(l.Str, x.CaseInsensitive)
			if w.kind == wcExact {
				n.keys = append(n.keys, string(w.lit))
				continue
			}
			// The bytes before the first wildcard must start the value.
			p := w.lit
			if w.kind == wcGeneral {
				p = w.pat[:bytes.IndexAny(w.pat, "*?")]
			} else if w.kind != wcPrefix {
				p = nil
			}
			if len(p) == 0 {
				return nil
			}
			n.prefixes = append(n.prefixes, string(p[:min(len(p), maxPrefix)]))
		}
		return oneNeed(n)
	}
	return nil
}

func oneNeed(n need) []clause {
	if n.slot < 0 {
		return nil
	}
	return []clause{{normNeed(n)}}
}

func fieldLit(a, b eql.Expr) (*eql.Field, *eql.Literal) {
	if l, ok := a.(*eql.Literal); ok {
		a, b = b, l
	}
	f, ok1 := a.(*eql.Field)
	l, ok2 := b.(*eql.Literal)
	if !ok1 || !ok2 || len(f.Index) > 0 {
		return nil, nil
	}
	return f, l
}

func fieldSlot(sch *schema, f *eql.Field) int {
	if sch.typed[f.Name()] {
		return -1 // compared by type, not by bytes
	}
	if i, ok := sch.index[f.Name()]; ok {
		return i
	}
	return -1
}

// plainKey reports whether a string constant compares with field values by
// its bytes alone: not a number, an IP address or a boolean, which `==` and
// `in` also compare by value.
func plainKey(s string) bool {
	if _, ok := numOf(Value{Kind: KindString, Str: []byte(s)}); ok {
		return false
	}
	if _, ok := parseIP([]byte(s)); ok {
		return false
	}
	switch strings.ToLower(s) {
	case "true", "false":
		return false
	}
	return true
}

func normNeed(n need) need {
	slices.Sort(n.keys)
	n.keys = slices.Compact(n.keys)
	slices.Sort(n.prefixes)
	n.prefixes = slices.Compact(n.prefixes)
	return n
}

// addNeed adds n to the disjunction c, merging needs on one slot (folding
// both when either folds: a superset of both).
func addNeed(c clause, n need) clause {
	for i := range c {
		if c[i].slot != n.slot {
			continue
		}
		m := need{slot: n.slot, fold: c[i].fold || n.fold}
		for _, side := range []need{c[i], n} {
			for _, k := range side.keys {
				if m.fold && !side.fold {
					k = lowerString(k)
				}
				m.keys = append(m.keys, k)
			}
			for _, k := range side.prefixes {
				if m.fold && !side.fold {
					k = lowerString(k)
				}
				m.prefixes = append(m.prefixes, k)
			}
		}
		c[i] = normNeed(m)
		return c
	}
	return append(c, n)
}

// fieldTier ranks fields for the index: one that is usually single-valued
// and varies between events selects fewer stages than one every event of a
// data stream shares.
func fieldTier(name string) int {
	switch name {
	case "host.os.type", "host.os.family", "host.os.name", "host.os.platform", "host.os.full",
		"event.kind", "event.category", "event.module", "event.dataset", "event.outcome",
		"data_stream.dataset", "data_stream.type", "data_stream.namespace", "agent.type", "ecs.version":
		return 3
	case "event.type", "event.action", "network.direction", "network.transport", "network.type":
		return 2
	case "process.args", "process.parent.args", "host.ip", "host.mac", "process.Ext.ancestry":
		return 1
	}
	return 0
}

// clauseCost orders clauses: the weakest field first, then the number of
// lookups, then of keys (prefixes count double: they match more).
func clauseCost(sch *schema, c clause) int {
	tier, keys := 0, 0
	for _, n := range c {
		tier = max(tier, fieldTier(sch.names[n.slot]))
		keys += len(n.keys) + 2*len(n.prefixes)
	}
	return tier<<24 | min(len(c), 255)<<16 | min(keys, 1<<16-1)
}

// bestClause picks the clause a stage is indexed by, or reports none.
func bestClause(sch *schema, cs []clause) (clause, bool) {
	var best clause
	bestCost := -1
	for _, c := range cs {
		if len(c) == 0 {
			continue
		}
		if cost := clauseCost(sch, c); bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best, bestCost >= 0
}

// stageIndex selects candidate stages by category and needed constants.
// Stages are numbered by their position in Program.all (rule order, later
// stages first), so a bitmap of candidates read in order is the order the
// engine must try them in.
type stageIndex struct {
	words int
	byCat map[string]*catIndex
	any   *catIndex // events without a known category: `any where` stages
}

// catIndex indexes the stages one category meets (its own and `any`).
type catIndex struct {
	rest   []uint64 // bitmap of the stages without a need
	fields []fieldIndex
}

// fieldIndex maps the values of one field to the stages that need them.
type fieldIndex struct {
	slot     int
	fold     bool
	keys     map[string][]int32 // whole value -> stage numbers (while building)
	prefixes []prefixIndex      // by prefix length, ascending
	table    *strTable[[]int32] // keys, frozen
}

type prefixIndex struct {
	n     int
	keys  map[string][]int32 // value[:n] -> stage numbers (while building)
	table *strTable[[]int32]
}

// freeze turns the maps built at compile time into lookup tables.
func (ci *catIndex) freeze() {
	for k := range ci.fields {
		f := &ci.fields[k]
		f.table, f.keys = newStrTable(f.keys), nil
		for j := range f.prefixes {
			pi := &f.prefixes[j]
			pi.table, pi.keys = newStrTable(pi.keys), nil
		}
	}
}

func buildIndex(p *Program) *stageIndex {
	ix := &stageIndex{words: (len(p.all) + 63) / 64, byCat: map[string]*catIndex{}}
	clauses := make([]clause, len(p.all))
	for i, s := range p.all {
		if s.where != nil {
			clauses[i], _ = bestClause(p.sch, needsOf(p.sch, s.where))
		}
	}
	build := func(cat string) *catIndex {
		ci := &catIndex{rest: make([]uint64, ix.words)}
		for i, s := range p.all {
			if s.category != "" && s.category != cat {
				continue
			}
			if len(clauses[i]) == 0 {
				ci.rest[i/64] |= 1 << (i % 64)
				continue
			}
			for _, n := range clauses[i] {
				ci.add(n, int32(i))
			}
		}
		ci.freeze()
		return ci
	}
	for _, s := range p.all {
		if s.category != "" && ix.byCat[s.category] == nil {
			ix.byCat[s.category] = build(s.category)
		}
	}
	ix.any = build("")
	return ix
}

// add registers stage number i under need n.
func (ci *catIndex) add(n need, i int32) {
	k := slices.IndexFunc(ci.fields, func(f fieldIndex) bool { return f.slot == n.slot })
	if k < 0 {
		ci.fields = append(ci.fields, fieldIndex{slot: n.slot, fold: n.fold, keys: map[string][]int32{}})
		k = len(ci.fields) - 1
	}
	f := &ci.fields[k]
	if n.fold && !f.fold {
		// One map per field: fold it all, a superset of the exact keys.
		f.fold = true
		old := f.keys
		f.keys = map[string][]int32{}
		for key, ss := range old {
			f.keys[lowerString(key)] = mergeStages(f.keys[lowerString(key)], ss)
		}
		for j := range f.prefixes {
			old := f.prefixes[j].keys
			f.prefixes[j].keys = map[string][]int32{}
			for key, ss := range old {
				lk := lowerString(key)
				if len(lk) > f.prefixes[j].n {
					lk = lk[:f.prefixes[j].n]
				}
				f.prefixes[j].keys[lk] = mergeStages(f.prefixes[j].keys[lk], ss)
			}
		}
	}
	fold := func(key string) string {
		if f.fold && !n.fold {
			return lowerString(key)
		}
		return key
	}
	for _, key := range n.keys {
		key = fold(key)
		f.keys[key] = mergeStages(f.keys[key], []int32{i})
	}
	for _, key := range n.prefixes {
		key = fold(key)
		j := slices.IndexFunc(f.prefixes, func(pi prefixIndex) bool { return pi.n == len(key) })
		if j < 0 {
			f.prefixes = append(f.prefixes, prefixIndex{n: len(key), keys: map[string][]int32{}})
			slices.SortFunc(f.prefixes, func(a, b prefixIndex) int { return a.n - b.n })
			j = slices.IndexFunc(f.prefixes, func(pi prefixIndex) bool { return pi.n == len(key) })
		}
		pi := &f.prefixes[j]
		pi.keys[key] = mergeStages(pi.keys[key], []int32{i})
	}
}

func mergeStages(a, b []int32) []int32 {
	out := append(a, b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// candScratch is an engine's scratch space for candidate selection.
type candScratch struct {
	bits []uint64
}

// collect marks the stages of ci the event meets. Folded values come from
// the evaluation context's cache, which the conditions then reuse.
func (ci *catIndex) collect(ev *Event, sc *candScratch, c *ctx) {
	for w, x := range ci.rest {
		sc.bits[w] |= x
	}
	for k := range ci.fields {
		f := &ci.fields[k]
		for i := ev.slots[f.slot].head; i != 0; i = ev.vals[i-1].next {
			v := &ev.vals[i-1].v
			if v.Kind != KindString && v.Kind != KindNumber {
				continue
			}
			key := v.Str
			if f.fold {
				key = c.lowerVal(i-1, key)
			}
			if ss, ok := f.table.get(key); ok {
				for _, s := range ss {
					sc.bits[s>>6] |= 1 << (uint(s) & 63)
				}
			}
			for j := range f.prefixes {
				pi := &f.prefixes[j]
				if len(key) < pi.n {
					break
				}
				if ss, ok := pi.table.get(key[:pi.n]); ok {
					for _, s := range ss {
						sc.bits[s>>6] |= 1 << (uint(s) & 63)
					}
				}
			}
		}
	}
}

// indexCandidates returns the stages the index selects for the current
// event, in Program.all order.
func (e *Engine) indexCandidates() []*stage {
	p, ix, sc, ev := e.p, e.p.idx, &e.ix, &e.ev
	if len(sc.bits) != ix.words {
		sc.bits = make([]uint64, ix.words)
	}
	clear(sc.bits)
	h := ev.slots[p.catSlot].head
	if h == 0 {
		ix.any.collect(ev, sc, &e.c)
	}
	for i := h; i != 0; i = ev.vals[i-1].next {
		v := &ev.vals[i-1].v
		ci := ix.any
		if v.Kind == KindString {
			if c := ix.byCat[bstr(v.Str)]; c != nil {
				ci = c
			}
		}
		ci.collect(ev, sc, &e.c)
	}
	e.cands = e.cands[:0]
	for w, x := range sc.bits {
		for x != 0 {
			e.cands = append(e.cands, p.all[w*64+bits.TrailingZeros64(x)])
			x &= x - 1
		}
	}
	return e.cands
}
