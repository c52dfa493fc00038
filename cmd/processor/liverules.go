package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/eqlstream/eqlstream/kafkaconn"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/suppress"
	"github.com/eqlstream/eqlstream/rulesets"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// liveRuleFlagsError refuses a run that names two rule sources: rules
// come either from files (--rules, --exceptions) or from a rules topic,
// whose exception lists are records of the same topic.
func liveRuleFlagsError(f *runFlags) error {
	if f.rulesTopic == "" {
		return nil
	}
	switch {
	case f.embedded:
		return errors.New("--rules-topic needs a Kafka cluster, not --embedded")
	case len(f.rulePaths) > 0:
		return errors.New("use --rules (files) or --rules-topic, not both: a group runs one rule set, and the topic is the one every instance reads")
	case len(f.xf.paths) > 0:
		return errors.New("--exceptions with --rules-topic: publish the lists to the topic (processor rules push --exceptions FILE)")
	}
	return nil
}

// startLiveRules makes the instance's live rule set: read from the rules
// topic (before this returns: the instance is not ready before) and
// followed, or — with --rules files — reloaded on SIGHUP and file changes.
// The built-in detections are fixed (their metrics are served all the same).
func startLiveRules(ctx context.Context, f *runFlags, conn *kafkaconn.Config, initial *rules.RuleSet, opts engine.Options, log *slog.Logger, reg prometheus.Registerer) (*rulesets.Live, error) {
	live := rulesets.NewLive(log, rulesets.NewMetrics(reg))
	if f.rulesTopic == "" && len(f.rulePaths) == 0 {
		live.Offer(initial, nil)
		return live, nil
	}
	extra := f.xf.extra()
	if f.rulesTopic != "" {
		fo := &rulesets.Follower{Topic: f.rulesTopic, Opts: append(conn.Opts(log), kgo.RequestRetries(10)), Live: live, Log: log,
			Build: func(d rulesets.Docs, rev string) (*rules.RuleSet, []error) {
				rs, xs, perrs := rulesets.Parse(d, f.rulesTopic, nil)
				rs, serrs := scopedRules(rs)
				set, cerrs := rulesets.Compile(rs, xs, extra, opts, rev)
				if set != nil {
					_ = f.af.apply(set) // the name was checked at startup
				}
				return set, append(append(perrs, serrs...), cerrs...)
			}}
		return live, fo.Start(ctx)
	}
	initial.Revision = rulesets.ContentRevision(initial)
	live.Offer(initial, nil)
	fw := &rulesets.Files{Paths: append(append([]string{}, f.rulePaths...), f.xf.paths...), Live: live, Log: log,
		Load: func() (*rules.RuleSet, []error, error) {
			set, errs := rulesets.LoadFiles(f.rulePaths, f.xf.paths, extra, opts)
			if set != nil {
				_ = f.af.apply(set) // the name was checked at startup
			}
			if err := suppress.CheckScope(set, "host.id"); err != nil {
				errs = append(errs, err) // a revision with errors does not replace the running one
			}
			return set, errs, nil
		}}
	return live, fw.Start(ctx)
}

// scopedRules leaves out the suppression rules whose group_by lacks host.id,
// the partition key (run refuses them at startup; a live revision holding
// one is a revision with a rule error): see suppress.CheckScope.
func scopedRules(rs []*rules.Rule) ([]*rules.Rule, []error) {
	var errs []error
	ok := rs[:0:0]
	for _, r := range rs {
		if err := suppress.CheckRuleScope(r, "host.id"); err != nil && r.Enabled {
			errs = append(errs, &rulesets.RuleError{Key: r.ID, Err: err})
			continue
		}
		ok = append(ok, r)
	}
	return ok, errs
}
