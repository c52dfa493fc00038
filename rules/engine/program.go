// Package engine compiles checked EQL queries into evaluators over a compact
// event representation and runs them over a stream: event queries match on
// arrival, sequences and samples keep per-join-key state machines with
// Elasticsearch's semantics, ordered in event time. It is pure: no I/O, no
// logger, no clock — the same input always gives the same matches.
package engine

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
)

// Options configures compilation and evaluation, mirroring the EQL search API.
type Options struct {
	TimestampField  string        // default "@timestamp"
	TiebreakerField string        // optional numeric field ordering events with equal timestamps
	CategoryField   string        // default "event.category"
	AllowedDisorder time.Duration // how far out of timestamp order events may arrive (default 2s)
	DefaultMaxSpan  time.Duration // window for sequences/samples without maxspan (default 9m)
	MaxStates       int           // pending partial matches per engine (default 1,000,000)
	MaxDepth        int           // JSON nesting limit (default 64)
	DisableIndex    bool          // evaluate every rule on every event (differential tests)
	// RequiredFields must be present in every event; Process rejects an event
	// without one with a DecodeError of reason "missing_<field>".
	RequiredFields []string
	// Types gives fields their Elasticsearch types (fieldtype.Builtin() and
	// --mapping files): comparisons on date, ip, numeric, boolean and version
	// fields are typed (typed.go), a null_value replaces explicit nulls, and
	// optional fields it does not know fold to null where Elasticsearch's
	// analyzer does. nil: every field compares by its JSON value.
	Types *fieldtype.Schema
}

func (o *Options) defaults() {
	if o.TimestampField == "" {
		o.TimestampField = "@timestamp"
	}
	if o.CategoryField == "" {
		o.CategoryField = "event.category"
	}
	if o.AllowedDisorder == 0 {
		o.AllowedDisorder = 2 * time.Second
	}
	if o.AllowedDisorder < 0 {
		o.AllowedDisorder = 0
	}
	if o.DefaultMaxSpan <= 0 {
		o.DefaultMaxSpan = 9 * time.Minute
	}
	if o.MaxStates <= 0 {
		o.MaxStates = 1_000_000
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 64
	}
}

// RuleDef is one query to compile.
type RuleDef struct {
	ID     string
	Source *eql.Source
	// MaxSpan bounds sequences and samples that have no maxspan (the rule's
	// lookback); zero means Options.DefaultMaxSpan, negative means no bound
	// in time (the EQL search API's behaviour; only MaxStates bounds state).
	MaxSpan time.Duration
	// Exclusions are the rule's exception items (see exclude.go): an event
	// matching one takes no part in the rule.
	Exclusions []Exclusion
	// Variant is configuration outside the query whose change makes the
	// rule a new rule (package rules puts the alert suppression settings
	// here): it is part of Fingerprint, so state kept across a rule-set
	// change — partial matches and suppression windows — belongs to a rule
	// with the same query, exceptions and variant.
	Variant string
}

// RuleKind says how a rule matches.
type RuleKind uint8

// Rule kinds.
const (
	EventRule RuleKind = iota
	SequenceRule
	SampleRule
)

func (k RuleKind) String() string {
	return [...]string{"event", "sequence", "sample"}[k]
}

// Rule is a compiled rule.
type Rule struct {
	ID       string
	Kind     RuleKind
	Query    *eql.Statement
	Warnings eql.Errors
	// Stages of a sequence (runs expanded) or sample; one for event rules.
	Stages []Stage
	// MaxSpan of a sequence or sample (the default when the query has none).
	MaxSpan    time.Duration
	HasMaxSpan bool
	KeyFields  [][]string // join key fields per stage (header keys first)
	// Fingerprint identifies the rule's state machine: its ID, query text,
	// maxspan, exclusions, variant (RuleDef.Variant) and the ordering options. State built by a rule
	// carries over to a rule with the same fingerprint (see Migrate).
	Fingerprint uint64
	HostScoped  bool // a join key is host.id, host.name, host.hostname or agent.id
	index       int
	until       *stage
	stages      []*stage
	lastPos     int // index of the last positive stage
	firstPos    int
	hasTrailing bool
	excl        *exclusion // nil: no exceptions
}

// Stage describes one stage of a rule.
type Stage struct {
	Category string // "" for any
	Missing  bool
}

type stage struct {
	rule     *Rule
	idx      int // -1 for until
	category string
	pred     predFn
	keys     []int  // slots of the join key fields
	optional []bool // `by ?f`: a missing value is the key value null
	missing  bool
	where    eql.Expr // the condition, for the rule index
}

// CompileError is a rule that failed to compile.
type CompileError struct {
	RuleID string
	Err    error
}

func (e *CompileError) Error() string { return fmt.Sprintf("rule %s: %v", e.RuleID, e.Err) }
func (e *CompileError) Unwrap() error { return e.Err }

// Program is a set of compiled rules sharing one event schema and index.
type Program struct {
	opts    Options
	sch     *schema
	rules   []*Rule
	byCat   map[string][]*stage
	anyCat  []*stage
	idx     *stageIndex // see index.go
	memos   *memoTable  // the memoized conditions (compile.go)
	all     []*stage
	tsSlot  int
	tbSlot  int
	catSlot int
	hash    uint64
	hasSeq  bool
	// stateful are the sequence and sample rules: the only ones with state
	// to expire or evict.
	stateful []*Rule
	req      []int
	nExcl    int // exclusion counters (one per rule and exception list)
}

// Compile compiles the rules. Rules that fail are reported, each as a
// *CompileError, and left out; the program holds the rest.
func Compile(defs []RuleDef, opts Options) (*Program, error) {
	return compile(defs, opts, newMemoTable())
}

// compile is Compile; memos nil turns off the per-event memoization of
// conditions (for differential tests).
func compile(defs []RuleDef, opts Options, memos *memoTable) (*Program, error) {
	opts.defaults()
	p := &Program{opts: opts, sch: newSchema(), byCat: map[string][]*stage{}, tbSlot: -1, memos: memos}
	p.tsSlot = p.sch.slot(opts.TimestampField)
	p.catSlot = p.sch.slot(opts.CategoryField)
	if opts.TiebreakerField != "" {
		p.tbSlot = p.sch.slot(opts.TiebreakerField)
	}
	for _, f := range opts.RequiredFields {
		p.req = append(p.req, p.sch.slot(f))
	}
	var errs []error
	seen := map[string]bool{}
	h := xxhash.New()
	for _, d := range defs {
		if seen[d.ID] {
			errs = append(errs, &CompileError{d.ID, errors.New("duplicate rule id")})
			continue
		}
		r, err := p.compileRule(d)
		if err != nil {
			errs = append(errs, &CompileError{d.ID, err})
			continue
		}
		if r.excl, err = p.compileExclusions(d.Exclusions); err != nil {
			errs = append(errs, &CompileError{d.ID, err})
			continue
		}
		if r.excl != nil {
			r.excl.base = p.nExcl
			p.nExcl += len(r.excl.lists)
		}
		seen[d.ID] = true
		r.index = len(p.rules)
		p.rules = append(p.rules, r)
		fmt.Fprintf(h, "%s\x00%s\x00%d\x00", d.ID, d.Source.Text, r.MaxSpan)
		// exceptions change which events take part: state built under
		// other exceptions is not this program's
		hashExclusions(h, d.Exclusions)
		if d.Variant != "" { // absent: fingerprints as before variants existed
			fmt.Fprintf(h, "v%s\x00", d.Variant)
		}
		r.Fingerprint = ruleFingerprint(d, r, opts)
	}
	fmt.Fprintf(h, "%s\x00%s\x00%s", opts.TimestampField, opts.TiebreakerField, opts.CategoryField)
	p.applyTypes(h)
	p.hash = h.Sum64()
	for _, r := range p.rules {
		if r.Kind != EventRule {
			p.stateful = append(p.stateful, r)
		}
		all := append([]*stage{}, r.stages...)
		if r.until != nil {
			all = append(all, r.until)
		}
		for _, s := range all {
			p.all = append(p.all, s)
			if s.category == "" {
				p.anyCat = append(p.anyCat, s)
			} else {
				p.byCat[s.category] = append(p.byCat[s.category], s)
			}
		}
	}
	// Within a rule, later stages first: an event must never fill two
	// consecutive stages of one sequence.
	sortStages(p.all)
	sortStages(p.anyCat)
	for _, ss := range p.byCat {
		sortStages(ss)
	}
	p.idx = buildIndex(p)
	return p, errors.Join(errs...)
}

// Rules returns the compiled rules in input order.
func (p *Program) Rules() []*Rule { return p.rules }

// Hash identifies the rule set and ordering options; persisted state is only
// valid for the program that wrote it.
func (p *Program) Hash() uint64 { return p.hash }

// Fields returns the field names events are decoded for.
func (p *Program) Fields() []string { return append([]string(nil), p.sch.names...) }

func (p *Program) compileRule(d RuleDef) (r *Rule, err error) {
	st, err := eql.Parse(d.Source)
	if err != nil {
		return nil, err
	}
	if p.opts.Types != nil {
		eql.FoldOptional(st, p.opts.Types.Known)
	}
	warns, err := eql.Check(st, d.Source)
	if err != nil {
		return nil, err
	}
	if len(st.Pipes) > 0 {
		return nil, eql.Errors{{Src: d.Source, Pos: st.Pipes[0].Pos, Msg: "pipes are not supported"}}
	}
	defer func() {
		if rec := recover(); rec != nil {
			ce, ok := rec.(compileErr)
			if !ok {
				panic(rec)
			}
			r, err = nil, eql.Errors{ce.e}
		}
	}()
	cp := &compiler{sch: p.sch, src: d.Source, memos: p.memos, types: p.opts.Types}
	r = &Rule{ID: d.ID, Query: st, Warnings: warns}
	defer func() {
		if r != nil && len(cp.warns) > 0 {
			r.Warnings = append(r.Warnings, cp.warns...)
			sort.SliceStable(r.Warnings, func(i, j int) bool { return r.Warnings[i].Pos < r.Warnings[j].Pos })
		}
	}()
	span := d.MaxSpan
	switch {
	case span < 0:
		span = time.Duration(math.MaxInt64)
	case span == 0:
		span = p.opts.DefaultMaxSpan
	}
	linted := map[eql.Expr]bool{}
	newStage := func(q *eql.EventQuery, idx int, missing bool, keys []*eql.Field) *stage {
		s := &stage{rule: r, idx: idx, category: q.Category, missing: missing, pred: cp.pred(q.Where), where: q.Where}
		if !linted[q.Where] {
			linted[q.Where] = true // once per written stage (runs=N repeats it)
			cp.lintTypes(q.Where)
		}
		for _, k := range keys {
			s.keys = append(s.keys, cp.slot(k))
			s.optional = append(s.optional, k.Optional)
		}
		return s
	}
	switch q := st.Query.(type) {
	case *eql.EventQuery:
		r.Kind = EventRule
		r.stages = []*stage{newStage(q, 0, false, nil)}
	case *eql.SequenceQuery:
		r.Kind = SequenceRule
		p.hasSeq = true
		r.HasMaxSpan = q.MaxSpan > 0
		r.MaxSpan = span
		if r.HasMaxSpan {
			r.MaxSpan = q.MaxSpan
		}
		for _, s := range q.Stages {
			keys := append(append([]*eql.Field{}, q.By...), s.By...)
			for n := 0; n < max(s.Runs, 1); n++ {
				r.stages = append(r.stages, newStage(s.Query, len(r.stages), s.Missing, keys))
			}
		}
		if q.Until != nil {
			r.until = newStage(q.Until.Query, -1, false, append(append([]*eql.Field{}, q.By...), q.Until.By...))
		}
	case *eql.SampleQuery:
		r.Kind = SampleRule
		p.hasSeq = true
		r.MaxSpan = span
		for _, s := range q.Stages {
			r.stages = append(r.stages, newStage(s.Query, len(r.stages), false, append(append([]*eql.Field{}, q.By...), s.By...)))
		}
	default:
		return nil, errors.New("unsupported query type")
	}
	if len(r.stages) > 0xfff0 {
		return nil, errors.New("too many stages")
	}
	r.firstPos, r.lastPos = -1, -1
	for i, s := range r.stages {
		r.Stages = append(r.Stages, Stage{Category: s.category, Missing: s.missing})
		if !s.missing {
			if r.firstPos < 0 {
				r.firstPos = i
			}
			r.lastPos = i
		}
	}
	r.hasTrailing = r.lastPos < len(r.stages)-1
	if r.Kind != EventRule {
		for _, f := range keyNames(st) {
			r.KeyFields = append(r.KeyFields, f)
		}
		for _, ks := range r.KeyFields {
			for _, k := range ks {
				switch k {
				case "host.id", "host.name", "host.hostname", "agent.id":
					r.HostScoped = true
				}
			}
		}
	}
	return r, nil
}

func keyNames(st *eql.Statement) [][]string {
	var hdr []*eql.Field
	var stages []*eql.Stage
	switch q := st.Query.(type) {
	case *eql.SequenceQuery:
		hdr, stages = q.By, q.Stages
	case *eql.SampleQuery:
		hdr, stages = q.By, q.Stages
	}
	var out [][]string
	for _, s := range stages {
		var names []string
		for _, f := range append(append([]*eql.Field{}, hdr...), s.By...) {
			names = append(names, f.Name())
		}
		for n := 0; n < max(s.Runs, 1); n++ {
			out = append(out, names)
		}
	}
	return out
}

// sortStages orders candidate stages: by rule, then stage descending so an
// event never fills two consecutive stages of one sequence.
func sortStages(ss []*stage) {
	sort.SliceStable(ss, func(i, j int) bool {
		if ss[i].rule.index != ss[j].rule.index {
			return ss[i].rule.index < ss[j].rule.index
		}
		return ss[i].idx > ss[j].idx
	})
}
