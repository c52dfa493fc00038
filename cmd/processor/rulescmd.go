package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/eqlstream/eqlstream/kafkaconn"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rulesets"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cmdRulesTopic runs `processor rules push|delete|list|diff`: the rules
// topic (package rulesets) as a rule author sees it.
func cmdRulesTopic(sub string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var kc kafkaconn.Options
	kc.Register(fs)
	topic := fs.String("topic", "", "rules topic (default: EQLSTREAM_RULES_TOPIC)")
	fs.StringVar(topic, "rules-topic", "", "same as --topic")
	dry := fs.Bool("dry-run", false, "push: print what would be added and changed, publish nothing")
	builtin := fs.Bool("builtin", false, "push: the built-in detections (as well as any PATH)")
	prune := fs.Bool("prune", false, "push, diff: the PATHs are the whole rule set: delete the topic's rules and lists that are not in them (in the same transaction)")
	create := fs.Bool("create-topics", true, "push: create the rules topic (compacted, one partition) when it does not exist")
	replication := fs.Int("replication-factor", 1, "replication factor of a created rules topic")
	var xpaths multiFlag
	fs.Var(&xpaths, "exceptions", "push: Kibana exception list export to publish, one record per list (repeatable)")
	var ef engineFlags
	ef.register(fs)
	line := map[string]string{
		"push":   "processor rules push --brokers B --topic T [--dry-run] [--prune] [--builtin] [--exceptions FILE]... PATH...",
		"diff":   "processor rules diff --brokers B --topic T [--prune] [--builtin] PATH...",
		"delete": "processor rules delete --brokers B --topic T RULE_ID...",
		"list":   "processor rules list --brokers B --rules-topic T",
	}[sub]
	fs.Usage = usageFunc(fs, line+" [connection flags]")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := envDefaults(fs, set); err != nil {
		fmt.Fprintf(stderr, "rules %s: %v\n", sub, err)
		return exitUsage
	}
	if *topic == "" {
		*topic = os.Getenv("EQLSTREAM_RULES_TOPIC")
	}
	kc.PasswordOnCommandLine = set["sasl-password"]
	conn, err := kc.Build()
	if err == nil && *topic == "" {
		err = errors.New("no topic: set --topic (or EQLSTREAM_RULES_TOPIC)")
	}
	if err == nil && (sub == "delete" && fs.NArg() == 0 || (sub == "push" || sub == "diff") && fs.NArg() == 0 && !*builtin) {
		err = errors.New("nothing to " + sub)
	}
	if err != nil {
		fmt.Fprintf(stderr, "rules %s: %v\nusage: %s\n", sub, indentJoined(err), line)
		return exitUsage
	}
	log, _ := newLogger(stderr, "warn", "text")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, max(conn.ConnectTimeout, 10*time.Second)+30*time.Second)
	defer cancel()
	opts := conn.Opts(log)
	opts = append(opts, kgo.RequestRetries(5))
	switch sub {
	case "list":
		return rulesList(ctx, opts, *topic, ef.options(), stdout, stderr)
	case "delete":
		return rulesDelete(ctx, opts, *topic, fs.Args(), stdout, stderr)
	}
	// push, diff: compile like check first; nothing is published on error
	push := rulesets.Docs{}
	paths := map[string]string{}
	if *builtin {
		for id, b := range rules.BuiltinFiles() {
			push[id] = b
		}
	}
	if code := readRuleFiles(fs.Args(), push, paths, stdout); code != exitOK {
		return code
	}
	if len(xpaths) > 0 {
		xd, err := rulesets.ExceptionRecords(xpaths...)
		if err != nil {
			fmt.Fprintf(stdout, "%v\n", err)
			return exitRules
		}
		for k, v := range xd {
			push[k] = v
		}
	}
	// first without the topic: every error but a list the topic may hold
	rs, xs, perrs := rulesets.Parse(push, "push", paths)
	_, cerrs := rulesets.Compile(rs, xs, nil, ef.options(), "")
	var early []error
	for _, e := range append(perrs, cerrs...) {
		if !errors.Is(e, rules.ErrMissingList) {
			early = append(early, e)
		}
	}
	if refused(stdout, sub, early, len(push)) {
		return exitRules
	}
	if sub == "push" && !*dry {
		cl, err := kgo.NewClient(opts...)
		if err == nil {
			err = rulesets.CheckTopic(ctx, kadm.NewClient(cl), *topic, *create, int16(*replication))
			cl.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "rules %s: %v\n", sub, err)
			return exitFailure
		}
	}
	cur, err := rulesets.ReadAll(ctx, opts, *topic)
	if err != nil {
		if !errors.Is(err, rulesets.ErrNoTopic) || sub == "push" && !*dry {
			fmt.Fprintf(stderr, "rules %s: %v\n", sub, err)
			return exitFailure
		}
		cur = rulesets.NewReader() // diff against a topic that does not exist yet
	}
	// what the topic would hold: its records with the pushed ones over them
	after := rulesets.Docs{}
	for k, v := range cur.Docs {
		after[k] = v
	}
	for k, v := range push {
		after[k] = v
	}
	_, txs, _ := rulesets.Parse(after, *topic, nil)
	rs, _, _ = rulesets.Parse(push, "push", paths) // Compile attached lists to the rules: parse afresh
	rs, serrs := scopedRules(rs)                   // run would refuse them
	if _, cerrs := rulesets.Compile(rs, txs, nil, ef.options(), ""); refused(stdout, sub, append(serrs, cerrs...), len(push)) {
		return exitRules
	}
	plan := rulesets.PlanPush(cur.Docs, push, *prune)
	for _, k := range plan.Add {
		fmt.Fprintf(stdout, "add     %s\n", k)
	}
	for _, k := range plan.Change {
		fmt.Fprintf(stdout, "change  %s%s\n", k, stateNote(cur.Docs, push, k, *topic, ef.options()))
	}
	for _, k := range plan.Delete {
		fmt.Fprintf(stdout, "delete  %s\n", k)
	}
	if sub == "diff" || *dry {
		fmt.Fprintf(stdout, "rules %s: %d to add, %d to change, %d to delete, %d unchanged (topic %s at revision %s); nothing published\n",
			sub, len(plan.Add), len(plan.Change), len(plan.Delete), len(plan.Same), *topic, revOrNone(cur.Revision))
		return exitOK
	}
	recs := map[string][]byte{}
	for _, k := range append(append([]string{}, plan.Add...), plan.Change...) {
		recs[k] = push[k]
	}
	for _, k := range plan.Delete {
		recs[k] = nil
	}
	if len(recs) == 0 {
		fmt.Fprintf(stdout, "rules push: nothing changed (%d unchanged); topic %s stays at revision %s\n", len(plan.Same), *topic, revOrNone(cur.Revision))
		return exitOK
	}
	rev, err := rulesets.Publish(ctx, opts, *topic, recs)
	if err != nil {
		fmt.Fprintf(stderr, "rules push: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "rules push: %d added, %d changed, %d deleted, %d unchanged in one transaction; topic %s at revision %d\n",
		len(plan.Add), len(plan.Change), len(plan.Delete), len(plan.Same), *topic, rev)
	return exitOK
}

func revOrNone(r string) string {
	if r == "" {
		return "none"
	}
	return r
}

// stateNote says whether a changed rule keeps its state.
func stateNote(cur, push rulesets.Docs, k, topic string, opts engine.Options) string {
	fp := func(d rulesets.Docs) (uint64, bool) {
		rs, xs, _ := rulesets.Parse(rulesets.Docs{k: d[k]}, topic, nil)
		set, errs := rulesets.Compile(rs, xs, nil, opts, "")
		if len(errs) > 0 || len(set.Program.Rules()) != 1 {
			return 0, false
		}
		return set.Program.Rules()[0].Fingerprint, true
	}
	a, ok1 := fp(cur)
	b, ok2 := fp(push)
	if ok1 && ok2 && a == b {
		return "  (same fingerprint: pending matches and suppression windows kept)"
	}
	return "  (new state machine: its pending matches and suppression windows are dropped)"
}

// readRuleFiles reads rule files as check loads them and adds each rule's
// file text under its rule_id; load errors are printed (exit 3).
func readRuleFiles(files []string, into rulesets.Docs, paths map[string]string, stdout io.Writer) int {
	if len(files) == 0 {
		return exitOK
	}
	rs, _, err := rules.LoadPaths(files)
	if err != nil {
		printLoadErrors(stdout, err)
		fmt.Fprintln(stdout, "rules: files do not load; nothing published")
		return exitRules
	}
	for _, r := range rs {
		b, err := os.ReadFile(r.Path)
		if err != nil {
			fmt.Fprintln(stdout, err)
			return exitRules
		}
		into[r.ID] = b
		paths[r.ID] = r.Path
	}
	return exitOK
}

func rulesDelete(ctx context.Context, opts []kgo.Opt, topic string, ids []string, stdout, stderr io.Writer) int {
	cur, err := rulesets.ReadAll(ctx, opts, topic)
	if err != nil {
		fmt.Fprintf(stderr, "rules delete: %v\n", err)
		return exitFailure
	}
	recs := map[string][]byte{}
	for _, id := range ids {
		if _, ok := cur.Docs[id]; !ok {
			fmt.Fprintf(stderr, "rules delete: %s is not in topic %s; nothing deleted\n", id, topic)
			return exitFailure
		}
		recs[id] = nil
	}
	rev, err := rulesets.Publish(ctx, opts, topic, recs)
	if err != nil {
		fmt.Fprintf(stderr, "rules delete: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "rules delete: %d deleted in one transaction; topic %s at revision %d\n", len(ids), topic, rev)
	return exitOK
}

func rulesList(ctx context.Context, opts []kgo.Opt, topic string, eo engine.Options, stdout, stderr io.Writer) int {
	cur, err := rulesets.ReadAll(ctx, opts, topic)
	if err != nil {
		fmt.Fprintf(stderr, "rules list: %v\n", err)
		return exitFailure
	}
	rs, xs, perrs := rulesets.Parse(cur.Docs, topic, nil)
	set, cerrs := rulesets.Compile(rs, xs, nil, eo, cur.Revision)
	failed := map[string]error{}
	for _, e := range append(perrs, cerrs...) {
		var re *rulesets.RuleError
		if errors.As(e, &re) {
			failed[re.Key] = e
		}
	}
	byID := map[string]*rules.Rule{}
	for _, r := range rs {
		byID[r.ID] = r
	}
	fmt.Fprintf(stdout, "%-36s  %-7s  %-8s  %-8s  %s\n", "ID", "VERSION", "KIND", "STATUS", "NAME")
	for _, k := range cur.Docs.Keys() {
		kind, status, ver, name := "-", "ok", "-", ""
		if r := byID[k]; r != nil {
			ver, name = fmt.Sprint(r.Version), r.Name
			if cr := set.Program.RuleByID(k); cr != nil {
				kind = cr.Kind.String()
			}
			if !r.Enabled {
				status = "disabled"
			}
		} else if len(k) > len(rulesets.ExceptionListPrefix) && k[:len(rulesets.ExceptionListPrefix)] == rulesets.ExceptionListPrefix {
			kind = "list"
		}
		if failed[k] != nil {
			status = "error"
		}
		fmt.Fprintf(stdout, "%-36s  %-7s  %-8s  %-8s  %s\n", k, ver, kind, status, name)
	}
	fmt.Fprintf(stdout, "rules list: topic %s at revision %s: %d records, %d rules compile, %d errors\n",
		topic, revOrNone(cur.Revision), len(cur.Docs), len(set.Program.Rules()), len(failed))
	for _, k := range cur.Docs.Keys() {
		if e := failed[k]; e != nil {
			fmt.Fprintln(stdout, e)
		}
	}
	if len(failed) > 0 {
		return exitRules
	}
	return exitOK
}

// refused prints the records that do not compile; nothing is published.
func refused(w io.Writer, sub string, errs []error, n int) bool {
	if len(errs) == 0 {
		return false
	}
	for _, e := range errs {
		fmt.Fprintln(w, e)
	}
	fmt.Fprintf(w, "rules %s: %d of %d records do not compile; nothing published\n", sub, len(errs), n)
	return true
}
