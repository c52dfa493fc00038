package suppress

import "github.com/eqlstream/eqlstream/rules"

// Migrate returns the state for set at a rule-set change (between units of
// work; s is not modified): the open windows of every rule whose
// fingerprint (engine.Rule.Fingerprint, which covers the query, the
// exceptions and the suppression settings) is unchanged carry over, with
// their counts; the windows of a rule that changed, was deleted or no
// longer suppresses are closed without a summary, and dropped lists their
// records as tombstones, in key order, for the transaction that commits
// the change. A changed rule's groups open new windows with their next
// alert.
//
// Why no summary: the summary of a window is rendered from its rule's
// definition, and a processor that restores committed state under a new
// revision (a restart or a rebalance while the rules changed) no longer
// has the old definition, only the window records. Online and offline
// (eval --rules-at) must produce the same alerts wherever the change
// happens, so a change never writes summaries; the alert that opened the
// window was produced already, and only the count of the unfinished
// window is not reported.
func (s *State) Migrate(set *rules.RuleSet) (ns *State, dropped []Record) {
	ns = New(set)
	var gone []wkey
	for k, w := range s.open {
		if c := ns.byID[k.rule]; c != nil && c.finger == w.fp {
			nw := *w
			ns.open[k] = &nw
			ns.minEnd = min(ns.minEnd, nw.end)
			continue
		}
		gone = append(gone, k)
	}
	// ns has none of these keys: records gives their tombstones
	return ns, ns.records(gone)
}
