package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
	"github.com/eqlstream/eqlstream/rules/lint"
	"github.com/eqlstream/eqlstream/rules/suppress"
)

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noWarn := fs.Bool("no-warnings", false, "print errors only")
	strict := fs.Bool("strict", false, "fail (exit 3) when there are warnings")
	var ef engineFlags
	var xf exceptionFlags
	ef.register(fs)
	xf.register(fs)
	fs.Usage = usageFunc(fs, "processor check [flags] [--exceptions PATH]... PATH...")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	rs, stats, loadErr := rules.LoadPaths(fs.Args())
	errorsN := 0
	if loadErr != nil {
		errorsN += printLoadErrors(stdout, loadErr)
	}
	if len(xf.paths)+len(xf.attach) > 0 {
		// rules that name exception lists compile only with them attached
		if err := xf.apply(rs); err != nil {
			printCompileErrors(stdout, err)
			errorsN += len(unjoin(err))
		}
	}
	set, cerr := rules.Compile(rs, ef.options())
	if cerr != nil {
		printCompileErrors(stdout, cerr)
		errorsN += len(set.Failed)
	}
	warnings := 0
	kinds := map[string]int{}
	opts := ef.options()
	if set.Program != nil {
		for _, r := range set.Program.Rules() {
			ws := append(slices.Clip(r.Warnings), schemaWarnings(set, r, opts)...)
			slices.SortStableFunc(ws, func(a, b *eql.Error) int { return int(a.Pos - b.Pos) })
			for _, w := range ws {
				warnings++
				kinds[warnKind(w.Msg)]++
				if !*noWarn {
					fmt.Fprintf(stdout, "warning: %s\n", w.Detail())
				}
			}
		}
	}
	if set.Program != nil {
		// `run` refuses these (eval takes them): say so before deployment
		if err := suppress.CheckScope(set, "host.id"); err != nil {
			for _, l := range strings.Split(err.Error(), "\n") {
				warnings++
				kinds["alert suppression not scoped to host.id (processor run refuses the rule)"]++
				if !*noWarn {
					fmt.Fprintf(stdout, "warning: %s\n", l)
				}
			}
		}
	}
	compiled := 0
	seqs := 0
	if set.Program != nil {
		compiled = len(set.Program.Rules())
		for _, r := range set.Program.Rules() {
			if r.Kind != engine.EventRule {
				seqs++
			}
		}
	}
	fmt.Fprintf(stdout, "check: %d files, %d EQL rules: %d compiled (%d sequences/samples), %d failed, %d warnings; %d non-EQL rules skipped\n",
		stats.Files, stats.EQL, compiled, seqs, errorsN, warnings, stats.Skipped)
	ks := make([]string, 0, len(kinds))
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		fmt.Fprintf(stdout, "  %5d  %s\n", kinds[k], k)
	}
	if errorsN > 0 || *strict && warnings > 0 {
		return exitRules
	}
	return exitOK
}

// schemaWarnings lints a compiled rule against the field types in force
// (none with --untyped): unknown fields and categories, impossible
// operators for a field's type, needless `?`.
func schemaWarnings(set *rules.RuleSet, r *engine.Rule, opts engine.Options) eql.Errors {
	if opts.Types == nil {
		return nil
	}
	o := lint.Options{Types: opts.Types, Always: []string{opts.TimestampField, opts.CategoryField}}
	if opts.TiebreakerField != "" {
		o.Always = append(o.Always, opts.TiebreakerField)
	}
	o.Always = append(o.Always, opts.RequiredFields...)
	var src *eql.Source
	if meta := set.Rule(r); meta != nil {
		o.CategoryOverride = meta.EventCategoryOverride != ""
		o.Known = meta.RequiredFieldNames()
		src = meta.Source
	}
	return lint.Rule(r.Query, src, o)
}

// warnClasses are the classes of the schema warnings (rules/lint and the
// engine's typed comparisons), whose messages go on to name the field.
var warnClasses = []string{"unknown field", "unknown event category", "literal the field's type cannot read",
	"equality on a text field", "pattern on a non-string field", "optional ? on a field every event has"}

// warnKind is a warning's class for the summary: its message up to the
// first "; " or ": " (the rest names the fix or the detail), never cut
// inside a word.
func warnKind(msg string) string {
	for _, class := range warnClasses {
		if strings.HasPrefix(msg, class) {
			return class
		}
	}
	cut := len(msg)
	for _, sep := range []string{"; ", ": "} {
		if i := strings.Index(msg, sep); i >= 0 && i < cut {
			cut = i
		}
	}
	return msg[:cut]
}

func cmdRules(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "push", "delete", "list", "diff":
			return cmdRulesTopic(args[0], args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rulePaths multiFlag
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable; default: the built-in detections)")
	fs.Usage = usageFunc(fs, "processor rules [--rules PATH]... [PATH]...")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	// paths may be given as arguments too, as check takes them
	rulePaths = append(rulePaths, fs.Args()...)
	rs, err := loadRules(rulePaths, "", stderr)
	if err != nil {
		printCompileErrors(stderr, err)
		return exitRules
	}
	set, _ := rules.Compile(rs, engine.Options{Types: fieldtype.Builtin()}) // as eval and run compile them
	compiled := map[string]*engine.Rule{}
	if set.Program != nil {
		for _, r := range set.Program.Rules() {
			compiled[r.ID] = r
		}
	}
	fmt.Fprintf(stdout, "%-36s  %-8s  %-8s  %-8s  %s\n", "ID", "SEVERITY", "KIND", "STATUS", "NAME")
	bad := 0
	for _, r := range rs {
		kind, status := "-", "error"
		if cr := compiled[r.ID]; cr != nil {
			kind, status = cr.Kind.String(), "ok"
			if cr.Kind != engine.EventRule && !cr.HostScoped {
				status = "unscoped"
			}
		} else {
			bad++
		}
		if !r.Enabled {
			status = "disabled"
		}
		fmt.Fprintf(stdout, "%-36s  %-8s  %-8s  %-8s  %s\n", r.ID, r.Severity, kind, status, r.Name)
	}
	if bad > 0 {
		return exitRules
	}
	return exitOK
}

// printLoadErrors prints rule file errors with their caret detail and
// returns how many there were.
func printLoadErrors(w io.Writer, err error) int {
	n := 0
	for _, e := range unjoin(err) {
		var le *rules.Error
		if errors.As(e, &le) {
			fmt.Fprintln(w, le.Detail())
		} else {
			fmt.Fprintln(w, e)
		}
		n++
	}
	return n
}
