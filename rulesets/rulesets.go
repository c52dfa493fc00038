// Package rulesets owns the revisioned rule set of a running processor: the
// rule files and exception lists it is built from — files and directories
// (reloaded on SIGHUP and when they change) or the records of a compacted,
// single-partition Kafka rules topic — compiled into a rules.RuleSet with a
// revision, the choice of which revision runs (a revision that does not
// compile never replaces a good one), its metrics, and the rules topic's
// record format and reader. Per-rule fingerprints of the compiled form
// (engine.Rule.Fingerprint) say which rules a change left as they were.
//
// The rules topic: key = rule_id, value = the rule's TOML file as text, a
// tombstone deletes the rule; key "exception_list:<list_id>", value = a
// Kibana exception list export (NDJSON) holding that list. A revision is
// the topic offset after the record that completed it: after the commit
// marker of a transaction (a push is one transaction) or after a record
// written without one. The topic has one partition, so revisions are
// totally ordered and every reader sees the same revision sequence.
package rulesets

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/exceptions"
)

// ExceptionListPrefix starts the key of an exception list record.
const ExceptionListPrefix = "exception_list:"

// Docs are the records of a rule set's source by key: rule files (key =
// rule_id) and exception list exports (key = ExceptionListPrefix + list_id).
type Docs map[string][]byte

// Keys returns the keys in order.
func (d Docs) Keys() []string {
	ks := make([]string, 0, len(d))
	for k := range d {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// RuleError is a rule (or list) of a source that did not load or compile.
type RuleError struct {
	Key string // rule_id or exception_list:<list_id>
	Err error
}

func (e *RuleError) Error() string { return e.Key + ": " + detail(e.Err) }
func (e *RuleError) Unwrap() error { return e.Err }

// detail is the error with its source line and caret when it has them.
func detail(err error) string {
	var le *rules.Error
	if errors.As(err, &le) {
		return le.Detail()
	}
	var es eql.Errors
	if errors.As(err, &es) {
		return es.Error()
	}
	return err.Error()
}

// Parse parses docs named under name (a topic: records read as files
// "<name>/<rule_id>.toml"), or by paths[key] when given (the file a record
// was read from). It returns the rules, the exception lists and the
// records that do not parse, by key.
func Parse(docs Docs, name string, paths map[string]string) ([]*rules.Rule, *exceptions.Set, []error) {
	var rs []*rules.Rule
	var errs []error
	xs := exceptions.NewSet()
	for _, k := range docs.Keys() {
		v := docs[k]
		if list, ok := strings.CutPrefix(k, ExceptionListPrefix); ok {
			one := exceptions.NewSet()
			if err := one.Read(name+"/"+k+".ndjson", bytes.NewReader(v)); err != nil {
				errs = append(errs, &RuleError{k, err})
				continue
			}
			if _, ok := one.Lookup("", list); !ok {
				errs = append(errs, &RuleError{k, fmt.Errorf("the export holds no exception list %q", list)})
				continue
			}
			if err := xs.Read(name+"/"+k+".ndjson", bytes.NewReader(v)); err != nil {
				errs = append(errs, &RuleError{k, err})
			}
			continue
		}
		path := name + "/" + k + ".toml"
		if p, ok := paths[k]; ok {
			path = p
		}
		r, err := rules.ParseTOML(path, v)
		switch {
		case err != nil:
			errs = append(errs, &RuleError{k, err})
		case r == nil:
			errs = append(errs, &RuleError{k, errors.New("not an EQL rule")})
		case r.ID != k:
			errs = append(errs, &RuleError{k, fmt.Errorf("the record key is %q but the rule's rule_id is %q", k, r.ID)})
		default:
			rs = append(rs, r)
		}
	}
	return rs, xs, errs
}

// Compile attaches exception lists (each rule's own exceptions_list and
// extra, by rule_id, as --exceptions-for) and compiles the rules, exactly as
// check and run do. A rule that cannot be attached or compiled is left out
// and reported as a *RuleError; the set holds the rest, with revision.
func Compile(rs []*rules.Rule, xs *exceptions.Set, extra map[string][]string, opts engine.Options, revision string) (*rules.RuleSet, []error) {
	var errs []error
	ok := rs[:0:0]
	for _, r := range rs {
		if err := rules.AttachExceptions([]*rules.Rule{r}, xs, map[string][]string{r.ID: extra[r.ID]}); err != nil {
			errs = append(errs, &RuleError{r.ID, err})
			continue
		}
		ok = append(ok, r)
	}
	set, _ := rules.Compile(ok, opts)
	compiled := map[string]bool{}
	for _, r := range set.Program.Rules() {
		compiled[r.ID] = true
	}
	for _, r := range ok {
		if !compiled[r.ID] && r.Enabled {
			errs = append(errs, &RuleError{r.ID, failure(set.Failed, r)})
		}
	}
	set.Revision = revision
	return set, errs
}

// failure finds the error Compile reported for r.
func failure(failed []error, r *rules.Rule) error {
	for _, e := range failed {
		if strings.Contains(e.Error(), "("+r.Path+")") || strings.Contains(e.Error(), r.ID) {
			return e
		}
	}
	return errors.New("did not compile")
}

// Fingerprints are the compiled rules' fingerprints by rule_id.
func Fingerprints(set *rules.RuleSet) map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range set.Program.Rules() {
		out[r.ID] = r.Fingerprint
	}
	return out
}

// ContentRevision is the revision of a set loaded from files: a hash of
// every compiled rule's fingerprint and alert metadata, so any change that
// changes a state machine or an alert gives a new revision.
func ContentRevision(set *rules.RuleSet) string {
	h := xxhash.New()
	for _, r := range set.Program.Rules() {
		m := set.Rule(r)
		fmt.Fprintf(h, "%s\x00%x\x00%d\x00%s\x00%s\x00%d\x00%v\x00", r.ID, r.Fingerprint, m.Version, m.Name, m.Severity, m.RiskScore, m.Tags)
	}
	return fmt.Sprintf("files:%016x", h.Sum64())
}
