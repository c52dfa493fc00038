package rules

import (
	"errors"
	"fmt"
	"time"

	"github.com/eqlstream/eqlstream/rules/engine"
)

// RuleSet is a set of loaded rules compiled into one engine program.
type RuleSet struct {
	Program *engine.Program
	meta    map[*engine.Rule]*Rule
	format  Formatter // nil: the compact document (see format.go)
	// Failed are the rules that did not compile, with their errors.
	Failed []error
	// Revision identifies the rule set among the revisions a live source
	// delivers (package rulesets); "" for a set fixed at startup.
	Revision string
}

// Compile compiles the enabled rules. Rules that fail are returned in
// RuleSet.Failed and in the joined error; the set holds the rest.
func Compile(rs []*Rule, opts engine.Options) (*RuleSet, error) {
	var defs []engine.RuleDef
	var unresolved []error
	byID := map[string]*Rule{}
	for _, r := range rs {
		if !r.Enabled {
			continue
		}
		if len(r.Exceptions) > 0 && !r.attached {
			// never run a rule without the exceptions it names
			unresolved = append(unresolved, fmt.Errorf("%s (%s): exception list %q: %w (give its export with --exceptions)",
				r.Name, r.Path, r.Exceptions[0].ListID, ErrMissingList))
			continue
		}
		span, err := r.Lookback()
		if err != nil || span <= 0 {
			span = 0
		}
		if r.AdHoc {
			span = -1
		}
		defs = append(defs, engine.RuleDef{ID: r.ID, Source: r.Source, MaxSpan: span, Exclusions: r.exclusions, Variant: r.AlertSuppression.variant()})
		byID[r.ID] = r
	}
	p, err := engine.Compile(defs, opts)
	s := &RuleSet{Program: p, meta: map[*engine.Rule]*Rule{}}
	if err != nil {
		var ce *engine.CompileError
		for _, e := range unjoin(err) {
			if errors.As(e, &ce) {
				if r := byID[ce.RuleID]; r != nil {
					e = fmt.Errorf("%s (%s): %w", r.Name, r.Path, ce.Err)
				}
			}
			s.Failed = append(s.Failed, e)
		}
	}
	for _, er := range p.Rules() {
		s.meta[er] = byID[er.ID]
	}
	if len(unresolved) > 0 {
		s.Failed = append(unresolved, s.Failed...)
		err = errors.Join(append(unresolved, unjoin(err)...)...)
	}
	return s, err
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Rule returns the metadata of a compiled rule.
func (s *RuleSet) Rule(r *engine.Rule) *Rule { return s.meta[r] }

// Bodies looks up the raw bytes of a matched event by its reference.
type Bodies func(ref uint64) ([]byte, bool)

// Alert renders the alert for a match; it returns the document and its ID.
func (s *RuleSet) Alert(m engine.Match, bodies Bodies, processedAt time.Time) ([]byte, string, error) {
	in, err := s.alertInput(m, bodies, processedAt)
	if err != nil {
		return nil, "", err
	}
	doc, err := BuildAlert(in)
	if err != nil {
		return nil, "", err
	}
	return doc, AlertID(in.Rule, in.Events), nil
}

// alertInput gathers what the alert of a match is built from.
func (s *RuleSet) alertInput(m engine.Match, bodies Bodies, processedAt time.Time) (AlertInput, error) {
	r := s.meta[m.Rule]
	if r == nil {
		return AlertInput{}, fmt.Errorf("no metadata for rule %s", m.Rule.ID)
	}
	evs := make([]MatchedEvent, len(m.Refs))
	for i, ref := range m.Refs {
		if ref == engine.MissingRef {
			evs[i] = MatchedEvent{Missing: true}
			continue
		}
		b, ok := bodies(ref)
		if !ok {
			return AlertInput{}, fmt.Errorf("rule %s: matched event %d is no longer available", r.ID, ref)
		}
		evs[i] = MatchedEvent{Raw: b}
	}
	var keys []string
	if len(m.Rule.KeyFields) > 0 {
		keys = m.Rule.KeyFields[0]
	}
	return AlertInput{Rule: r, Kind: m.Rule.Kind.String(), Events: evs, KeyFields: keys, ProcessedAt: processedAt, RulesRevision: s.Revision}, nil
}

// EventStore keeps the bodies of events that may appear in a later alert,
// keyed by reference, and drops those no live state refers to any more.
type EventStore struct {
	m        map[uint64][]byte
	nextTrim int
}

// NewEventStore returns an empty store.
func NewEventStore() *EventStore { return &EventStore{m: map[uint64][]byte{}, nextTrim: 1024} }

// Put keeps a copy of raw under ref.
func (s *EventStore) Put(ref uint64, raw []byte) {
	s.m[ref] = append([]byte(nil), raw...)
}

// Get returns the body stored under ref.
func (s *EventStore) Get(ref uint64) ([]byte, bool) {
	b, ok := s.m[ref]
	return b, ok
}

// Len is the number of stored bodies.
func (s *EventStore) Len() int { return len(s.m) }

// Trim drops bodies below minLive when the store has grown; call it after
// each event with the engine's MinLiveRef (computed only when needed).
func (s *EventStore) Trim(minLive func() uint64) {
	if len(s.m) < s.nextTrim {
		return
	}
	lo := minLive()
	for ref := range s.m {
		if ref < lo {
			delete(s.m, ref)
		}
	}
	s.nextTrim = max(1024, 2*len(s.m))
}
