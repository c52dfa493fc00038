package rules

import (
	"errors"
	"fmt"
	"sort"

	"github.com/eqlstream/eqlstream/rules/exceptions"
)

// ExceptionRef is one entry of a rule's exceptions_list, as in Elastic's
// rule schema: the list's saved-object id, its list_id, its type (detection,
// endpoint, rule_default, ...) and namespace_type (single or agnostic).
type ExceptionRef struct {
	ID, ListID, Type, NamespaceType string
}

// ErrMissingList is a rule's reference to an exception list that was not
// loaded.
var ErrMissingList = errors.New("exception list not loaded")

// exceptionRefs reads [[rule.exceptions_list]] (or an inline array of
// tables).
func (d *decoder) exceptionRefs(rt map[string]any) []ExceptionRef {
	var out []ExceptionRef
	for i, m := range d.tables(rt, "rule", "exceptions_list") {
		if m == nil {
			continue
		}
		at := fmt.Sprintf("rule.exceptions_list[%d]", i)
		ref := ExceptionRef{ID: d.str(m, at, "id"), ListID: d.str(m, at, "list_id"),
			Type: d.str(m, at, "type"), NamespaceType: d.str(m, at, "namespace_type")}
		if ref.ListID == "" {
			d.fail(at+".list_id", "a string", m["list_id"])
			continue
		}
		out = append(out, ref)
	}
	return out
}

// AttachExceptions resolves the rules' exception lists: each rule's own
// exceptions_list references, plus the lists extra names for it by rule_id
// (the --exceptions-for RULE_ID=LIST_ID flag). A reference to a list that
// set does not hold is an error naming the rule and the list, as is an
// extra entry for a rule_id that was not loaded. set may be nil when no
// lists were loaded. Rules with references must pass through
// AttachExceptions before Compile, which refuses them otherwise.
func AttachExceptions(rs []*Rule, set *exceptions.Set, extra map[string][]string) error {
	if set == nil {
		set = exceptions.NewSet()
	}
	var errs []error
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.ID] = true
		r.exclusions, r.attached = nil, true
		refs := append([]ExceptionRef(nil), r.Exceptions...)
		for _, id := range extra[r.ID] {
			refs = append(refs, ExceptionRef{ListID: id})
		}
		done := map[*exceptions.List]bool{}
		for _, ref := range refs {
			l, ok := set.Lookup(ref.NamespaceType, ref.ListID)
			if !ok {
				ns := ref.NamespaceType
				if ns == "" {
					ns = "any namespace"
				}
				errs = append(errs, fmt.Errorf("rule %s (%s): exception list %q (%s): %w (give its export with --exceptions)",
					r.ID, r.Path, ref.ListID, ns, ErrMissingList))
				continue
			}
			if done[l] {
				continue
			}
			done[l] = true
			r.exclusions = append(r.exclusions, l.Exclusions()...)
		}
	}
	ids := make([]string, 0, len(extra))
	for id := range extra {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !seen[id] {
			errs = append(errs, fmt.Errorf("--exceptions-for %s: no rule with that rule_id was loaded", id))
		}
	}
	return errors.Join(errs...)
}
