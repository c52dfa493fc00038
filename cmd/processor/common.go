package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/eql"
	"github.com/eqlstream/eqlstream/rules/exceptions"
	"github.com/eqlstream/eqlstream/rules/fieldtype"
)

// Exit codes, documented in README.md.
const (
	exitOK       = 0
	exitFailure  = 1 // runtime failure (I/O, Kafka, fatal pipeline error)
	exitUsage    = 2 // bad flags or arguments
	exitRules    = 3 // rules failed to load or compile
	exitBadInput = 4 // --strict and a bad input line
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// engineFlags are the EQL search API options shared by eval and run.
type engineFlags struct {
	timestampField  string
	tiebreakerField string
	categoryField   string
	disorder        time.Duration
	maxStates       int
	types           *fieldtype.Schema // built-in ECS types plus --mapping files
	untyped         bool
}

func (f *engineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.timestampField, "timestamp-field", "@timestamp", "event time field (as in the EQL search API)")
	fs.StringVar(&f.tiebreakerField, "tiebreaker-field", "", "numeric field ordering events with equal timestamps")
	fs.StringVar(&f.categoryField, "event-category-field", "event.category", "event category field")
	fs.DurationVar(&f.disorder, "allowed-disorder", 2*time.Second, "how far out of timestamp order events may arrive")
	fs.IntVar(&f.maxStates, "max-states", 1_000_000, "pending partial matches kept per partition")
	fs.Func("mapping", "Elasticsearch index mapping file (the body of GET <index>/_mapping): field types and null_value on top of the built-in ECS types (repeatable)", func(path string) error {
		if f.types == nil {
			f.types = fieldtype.Builtin().Clone()
		}
		return f.types.AddMappingFile(path)
	})
	fs.BoolVar(&f.untyped, "untyped", false, "compare every field by its JSON value: no built-in ECS types, no --mapping")
}

// schema returns the field types in force (nil with --untyped).
func (f *engineFlags) schema() *fieldtype.Schema {
	switch {
	case f.untyped:
		return nil
	case f.types != nil:
		return f.types
	}
	return fieldtype.Builtin()
}

func (f *engineFlags) options() engine.Options {
	d := f.disorder
	if d == 0 {
		d = -1 // zero disorder, not the default
	}
	return engine.Options{TimestampField: f.timestampField, TiebreakerField: f.tiebreakerField,
		CategoryField: f.categoryField, AllowedDisorder: d, MaxStates: f.maxStates, Types: f.schema()}
}

// loadRules loads --rules paths, or the built-in detections when none are
// given, plus an inline --query.
func loadRules(paths []string, query string, stderr io.Writer) ([]*rules.Rule, error) {
	var rs []*rules.Rule
	if len(paths) > 0 {
		loaded, stats, err := rules.LoadPaths(paths)
		if err != nil {
			return nil, err
		}
		if stats.Skipped > 0 {
			fmt.Fprintf(stderr, "rules: %d EQL rules loaded, %d non-EQL rules skipped %v\n", stats.EQL, stats.Skipped, stats.SkippedByType)
		}
		rs = loaded
	} else if query == "" {
		rs = rules.Builtin()
	}
	if query != "" {
		rs = append(rs, &rules.Rule{ID: "query", Name: "Ad-hoc query", Severity: "low", RiskScore: 21, Version: 1,
			Type: "eql", Language: "eql", Query: query, Enabled: true, AdHoc: true, Source: &eql.Source{Name: "--query", Text: query}})
	}
	if len(rs) == 0 {
		return nil, errors.New("no rules loaded")
	}
	return rs, nil
}

// printCompileErrors prints each failed rule with its caret detail.
func printCompileErrors(w io.Writer, err error) {
	for _, e := range unjoin(err) {
		var es eql.Errors
		if errors.As(e, &es) {
			fmt.Fprintln(w, es.Error())
			continue
		}
		fmt.Fprintln(w, e)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// indentJoined prints errors.Join'ed errors one per line, indented, so a
// usage error lists everything that is missing at once.
func indentJoined(err error) string {
	errs := unjoin(err)
	if len(errs) == 1 {
		return errs[0].Error()
	}
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, e := range errs {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// syncWriter serializes writes: commands print to stderr while the Kafka
// client's goroutines log to it.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// exceptionFlags are --exceptions and --exceptions-for, shared by eval and
// run so both apply exception lists through the same rules.AttachExceptions.
type exceptionFlags struct {
	paths  multiFlag // Kibana exception list exports (NDJSON)
	attach multiFlag // RULE_ID=LIST_ID
}

func (f *exceptionFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.paths, "exceptions", "Kibana exception list export (NDJSON) to load (repeatable)")
	fs.Var(&f.attach, "exceptions-for", "attach a loaded exception list to a rule: RULE_ID=LIST_ID (repeatable)")
}

// apply loads the lists and attaches them to the rules: each rule's own
// exceptions_list references plus --exceptions-for. Any error (a bad list
// file, a missing list, an unknown rule_id) is a rules error (exit 3).
func (f *exceptionFlags) apply(rs []*rules.Rule) error {
	var set *exceptions.Set
	if len(f.paths) > 0 {
		s, err := exceptions.Load(f.paths...)
		if err != nil {
			return err
		}
		set = s
	}
	extra := map[string][]string{}
	for _, a := range f.attach {
		id, list, ok := strings.Cut(a, "=")
		if !ok || id == "" || list == "" {
			return fmt.Errorf("--exceptions-for %q: want RULE_ID=LIST_ID", a)
		}
		extra[id] = append(extra[id], list)
	}
	return rules.AttachExceptions(rs, set, extra)
}

// extra is --exceptions-for by rule_id (apply has checked the syntax).
func (f *exceptionFlags) extra() map[string][]string {
	extra := map[string][]string{}
	for _, a := range f.attach {
		if id, list, ok := strings.Cut(a, "="); ok {
			extra[id] = append(extra[id], list)
		}
	}
	return extra
}
