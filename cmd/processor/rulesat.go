package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// rulesAt is eval's --rules-at LINES[@FLUSHES]=PATH: after LINES input
// lines (and FLUSHES replayed idle flushes, when given), switch to the
// rules in PATH as a running processor switches revisions
// (engine.Engine.Migrate). `processor flushes` prints each partition's
// revision points as FROM@FLUSHES.
type rulesAt []rulesChange

type rulesChange struct {
	lines   int64
	flushes int64 // -1: before the flushes due at the same line
	path    string
	set     *rules.RuleSet
}

func (r *rulesAt) String() string {
	if r == nil {
		return ""
	}
	var s []string
	for _, c := range *r {
		s = append(s, fmt.Sprintf("%d=%s", c.lines, c.path))
	}
	return strings.Join(s, ",")
}

func (r *rulesAt) Set(v string) error {
	at, path, ok := strings.Cut(v, "=")
	if !ok || path == "" {
		return fmt.Errorf("--rules-at %q: want LINES[@FLUSHES]=PATH", v)
	}
	c := rulesChange{flushes: -1, path: path}
	lines, fl, hasFl := strings.Cut(at, "@")
	var err error
	if c.lines, err = strconv.ParseInt(lines, 10, 64); err != nil || c.lines < 0 {
		return fmt.Errorf("--rules-at %q: LINES must be a line count >= 0", v)
	}
	if hasFl {
		if c.flushes, err = strconv.ParseInt(fl, 10, 64); err != nil || c.flushes < 0 {
			return fmt.Errorf("--rules-at %q: FLUSHES must be a count >= 0", v)
		}
	}
	*r = append(*r, c)
	sort.SliceStable(*r, func(i, j int) bool { return (*r)[i].lines < (*r)[j].lines })
	return nil
}

// load compiles every change's rules like --rules (with the same
// exception lists and engine options).
func (r rulesAt) load(xf *exceptionFlags, opts engine.Options) error {
	for i := range r {
		rs, err := loadRules([]string{r[i].path}, "", io.Discard)
		if err == nil {
			err = xf.apply(rs)
		}
		if err == nil {
			r[i].set, err = rules.Compile(rs, opts)
		}
		if err != nil {
			return fmt.Errorf("--rules-at %s: %w", r[i].path, err)
		}
	}
	return nil
}

// due reports whether the next change applies now, with lines read and
// flushes replayed so far.
func (r rulesAt) due(next int, lines int64, flushes int) bool {
	return next < len(r) && r[next].lines <= lines && (r[next].flushes < 0 || r[next].flushes <= int64(flushes))
}
