package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
	"github.com/eqlstream/eqlstream/rules/suppress"
	"github.com/eqlstream/eqlstream/rulesets"
	"github.com/eqlstream/eqlstream/sinks"
)

// maxLine bounds one NDJSON line.
const maxLine = 8 << 20

type evalStats struct {
	events, bad, alerts int
	perRule             map[string]int
	byReason            map[string]int
	// by rule ID: alerts suppressed, suppression summaries written
	suppressed, summaries map[string]int
}

func cmdEval(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rulePaths multiFlag
	var ef engineFlags
	var xf exceptionFlags
	var af alertFormat
	af.register(fs)
	fs.Var(&rulePaths, "rules", "rule file or directory (repeatable; default: the built-in detections)")
	query := fs.String("query", "", "an inline EQL query to evaluate (rule id \"query\")")
	output := fs.String("output", "", "write alerts here instead of stdout")
	strict := fs.Bool("strict", false, "stop at the first bad input line (exit 4)")
	quiet := fs.Bool("quiet", false, "no summary on stderr")
	var flushAt flushPoints
	fs.Var(&flushAt, "flush-at", "idle flushes to replay: after these input line counts, comma separated (or @FILE); reproduces a processor's recorded flush points")
	var changes rulesAt
	fs.Var(&changes, "rules-at", "rule-set changes to replay: LINES[@FLUSHES]=PATH switches to the rules in PATH after LINES input lines (and FLUSHES idle flushes), keeping the state of unchanged rules as run does (repeatable; see processor flushes)")
	finalFlush := fs.Bool("final-flush", true, "at the end of the input, release the reorder buffer and decide pending missing-event matches as if the stream ended (false: leave them pending, as a running processor does)")
	statsOut := fs.String("stats-out", "", "write the final counters and engine state (events, late, watermark, ...) as JSON to this file")
	ef.register(fs)
	xf.register(fs)
	fs.Usage = usageFunc(fs, "processor eval [--rules PATH]... [--query EQL] [--exceptions PATH]... [flags] [FILE|-]...")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	queryGiven := false
	fs.Visit(func(f *flag.Flag) { queryGiven = queryGiven || f.Name == "query" })
	if queryGiven && strings.TrimSpace(*query) == "" {
		fmt.Fprintln(stderr, "eval: --query is empty (give an EQL query, or leave --query out to use the rules)")
		return exitUsage
	}
	rs, err := loadRules(rulePaths, *query, stderr)
	if err != nil {
		printCompileErrors(stderr, err)
		return exitRules
	}
	if err := xf.apply(rs); err != nil {
		printCompileErrors(stderr, err)
		return exitRules
	}
	set, err := rules.Compile(rs, ef.options())
	if err != nil {
		printCompileErrors(stderr, err)
		fmt.Fprintf(stderr, "eval: %d rules failed to compile\n", len(set.Failed))
		return exitRules
	}
	if err := af.apply(set); err != nil {
		fmt.Fprintf(stderr, "eval: %v\n", err)
		return exitUsage
	}
	if err := changes.load(&xf, ef.options()); err != nil {
		printCompileErrors(stderr, err)
		return exitRules
	}
	// Rules from files carry the revision run gives them (run --rules:
	// rulesets.ContentRevision), so their alerts are byte for byte run's.
	if len(rulePaths) > 0 && !queryGiven {
		set.Revision = rulesets.ContentRevision(set)
	}
	for _, c := range changes {
		_ = af.apply(c.set) // the name was checked above
		c.set.Revision = rulesets.ContentRevision(c.set)
	}
	out := stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			fmt.Fprintf(stderr, "eval: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		out = f
	}
	bw := sinks.NewNDJSON(out)
	defer bw.Flush()

	inputs := fs.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	st := &evalStats{perRule: map[string]int{}, byReason: map[string]int{}, suppressed: map[string]int{}, summaries: map[string]int{}}
	eng := set.Program.NewEngine()
	lines := int64(0) // input lines read, over all inputs (--flush-at counts them)
	nextFlush := 0
	store := rules.NewEventStore()
	var ref uint64
	start := time.Now()
	progress := isTerminal(os.Stderr) && !*quiet
	lastProgress := start
	sup := suppress.New(set)
	write := func(outs []suppress.Output) error {
		for _, o := range outs {
			if err := bw.Write(o.Doc); err != nil {
				return fmt.Errorf("writing alerts: %w", err)
			}
			if o.Member {
				continue // a further document of the alert before it: counted once
			}
			st.alerts++
			st.perRule[o.Rule.Name]++
			if o.Summary {
				st.summaries[o.Rule.ID]++
			}
		}
		return nil
	}
	// emit writes the alerts of one engine step (an event or a flush)
	// through alert suppression, then the summaries of the windows the
	// watermark closed: as the pipeline does for a record or a flush.
	emit := func(ms []engine.Match, cur []byte, curRef uint64) error {
		for _, m := range ms {
			docs, err := set.AlertDocs(m, func(r uint64) ([]byte, bool) {
				if r == curRef && cur != nil {
					return cur, true
				}
				return store.Get(r)
			}, time.Time{})
			if err != nil {
				return err
			}
			outs, dec, err := sup.ApplyDocs(m, docs)
			if err != nil {
				return err
			}
			if dec == suppress.Suppressed {
				st.suppressed[m.Rule.ID]++
			}
			for i := range outs {
				if outs[i].Rule == nil {
					outs[i].Rule = set.Rule(m.Rule)
				}
			}
			if err := write(outs); err != nil {
				return err
			}
		}
		if sup.Active() {
			return write(sup.Close(eng.Watermark()))
		}
		return nil
	}
	// flushDue replays the recorded idle flushes due after the lines read so far.
	nextChange := 0
	flushDue := func() error {
		for {
			if changes.due(nextChange, lines, nextFlush) {
				set = changes[nextChange].set
				eng, _ = eng.Migrate(set.Program)
				sup, _ = sup.Migrate(set) // as partition.Processor.Migrate: kept, or closed without a summary
				nextChange++
				continue
			}
			if nextFlush < len(flushAt) && flushAt[nextFlush] <= lines {
				if err := emit(eng.FlushIdle(), nil, 0); err != nil {
					return err
				}
				nextFlush++
				continue
			}
			return nil
		}
	}
	if err := flushDue(); err != nil {
		fmt.Fprintf(stderr, "eval: %v\n", err)
		return exitFailure
	}
	for _, in := range inputs {
		r, closeFn, err := openInput(in, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "eval: %v\n", err)
			return exitFailure
		}
		br := bufio.NewReaderSize(r, 1<<20)
		line := 0
		for {
			raw, rerr := readLine(br)
			if len(raw) > 0 || (rerr == nil && raw != nil) {
				line++
				lines++
				if errors.Is(rerr, errTooLong) {
					st.bad++
					st.byReason[engine.ReasonTooLarge]++
					fmt.Fprintf(stderr, "%s:%d: line longer than %d bytes, skipped\n", in, line, maxLine)
					if *strict {
						closeFn()
						return exitBadInput
					}
					rerr = nil
					goto next
				}
				raw = bytes.TrimSpace(raw)
				if len(raw) == 0 {
					goto next
				}
				ref++
				ms, retained, perr := eng.Process(raw, ref)
				if perr != nil {
					st.bad++
					var de *engine.DecodeError
					reason := engine.ReasonMalformed
					if errors.As(perr, &de) {
						reason = de.Reason
					}
					st.byReason[reason]++
					fmt.Fprintf(stderr, "%s:%d: %v (%s)\n", in, line, perr, reason)
					if *strict {
						closeFn()
						return exitBadInput
					}
					goto next
				}
				st.events++
				if retained {
					store.Put(ref, raw)
				}
				if err := emit(ms, raw, ref); err != nil {
					fmt.Fprintf(stderr, "eval: %v\n", err)
					closeFn()
					return exitFailure
				}
				store.Trim(eng.MinLiveRef)
				if progress && st.events%100000 == 0 && time.Since(lastProgress) > time.Second {
					lastProgress = time.Now()
					fmt.Fprintf(os.Stderr, "\r%d events, %d alerts, %.0f events/s", st.events, st.alerts, float64(st.events)/time.Since(start).Seconds())
				}
			}
		next:
			if err := flushDue(); err != nil {
				fmt.Fprintf(stderr, "eval: %v\n", err)
				closeFn()
				return exitFailure
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil && !errors.Is(rerr, errTooLong) {
				fmt.Fprintf(stderr, "eval: %s: %v\n", in, rerr)
				closeFn()
				return exitFailure
			}
		}
		closeFn()
	}
	if nextChange < len(changes) {
		fmt.Fprintf(stderr, "eval: --rules-at %d is after the end of the input (%d lines)\n", changes[nextChange].lines, lines)
		return exitUsage
	}
	if nextFlush < len(flushAt) {
		fmt.Fprintf(stderr, "eval: --flush-at %d is after the end of the input (%d lines)\n", flushAt[nextFlush], lines)
		return exitUsage
	}
	if *finalFlush {
		if err := emit(eng.Flush(), nil, 0); err != nil {
			fmt.Fprintf(stderr, "eval: %v\n", err)
			return exitFailure
		}
	}
	if err := bw.Flush(); err != nil {
		fmt.Fprintf(stderr, "eval: writing alerts: %v\n", err)
		return exitFailure
	}
	if progress {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
	if *statsOut != "" {
		if err := writeEvalStats(*statsOut, st, eng.Stats(), len(flushAt), sup); err != nil {
			fmt.Fprintf(stderr, "eval: %v\n", err)
			return exitFailure
		}
	}
	if !*quiet {
		el := time.Since(start)
		es := eng.Stats()
		fmt.Fprintf(stderr, "eval: %d events, %d alerts, %d bad lines, %d late events, %d evicted states in %s (%.0f events/s)\n",
			st.events, st.alerts, st.bad, es.Late, es.Evicted, el.Round(time.Millisecond), float64(st.events)/el.Seconds())
		names := make([]string, 0, len(st.perRule))
		for n := range st.perRule {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "  %6d  %s\n", st.perRule[n], n)
		}
		for _, x := range eng.ExcludedCounts() {
			fmt.Fprintf(stderr, "  excluded: %d events from rule %s by exception list %s\n", x.Events, x.RuleID, x.List)
		}
		for _, er := range set.Program.Rules() {
			if r := set.Rule(er); r != nil && r.AlertSuppression != nil {
				fmt.Fprintf(stderr, "  suppressed: %d alerts of rule %s, %d summaries, %d windows open\n", st.suppressed[r.ID], r.ID, st.summaries[r.ID], sup.OpenOf(r.ID))
			}
		}
		reasons := make([]string, 0, len(st.byReason))
		for reason := range st.byReason {
			reasons = append(reasons, reason)
		}
		sort.Strings(reasons) // deterministic summary
		for _, reason := range reasons {
			fmt.Fprintf(stderr, "  bad: %d %s\n", st.byReason[reason], reason)
		}
	}
	return exitOK
}

var errTooLong = errors.New("line too long")

// readLine reads one line without its newline; an over-long line is consumed
// and reported as errTooLong.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLine {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return []byte{' '}, errTooLong
			}
			return []byte{' '}, errTooLong
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			buf = append(buf, chunk...)
			continue
		}
		if buf != nil {
			chunk = append(buf, chunk...)
		}
		if err == io.EOF && len(chunk) == 0 {
			return nil, io.EOF
		}
		return bytes.TrimRight(chunk, "\r\n"), err
	}
}

func openInput(name string, stdin io.Reader) (io.Reader, func(), error) {
	var r io.Reader
	closeFn := func() {}
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		r, closeFn = f, func() { f.Close() }
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			closeFn()
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		c := closeFn
		r, closeFn = zr, func() { zr.Close(); c() }
	}
	return r, closeFn, nil
}
