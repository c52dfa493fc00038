package main

import (
	"flag"
	"fmt"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/elasticalert"
)

// alertFormat is --alert-format of run and eval: the documents an alert
// becomes. compact (the default) is one document per detection with the
// matched events in "events"; elastic is Kibana's detection-engine layout
// (package rules/elasticalert).
type alertFormat struct{ name string }

func (a *alertFormat) register(fs *flag.FlagSet) {
	fs.StringVar(&a.name, "alert-format", "compact", "alert documents: compact (one per detection, matched events in \"events\") or elastic (as Kibana's detection engine writes them: event fields at the top level, a shell and building blocks per sequence)")
}

// apply sets the set's formatter; an unknown name is a usage error.
func (a *alertFormat) apply(set *rules.RuleSet) error {
	switch a.name {
	case "", "compact":
		set.SetFormatter(nil)
	case "elastic":
		set.SetFormatter(elasticalert.Format)
	default:
		return fmt.Errorf("--alert-format %q: want compact or elastic", a.name)
	}
	return nil
}
