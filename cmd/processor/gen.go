package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
)

func genFlags(fs *flag.FlagSet) *gen.Config {
	c := &gen.Config{}
	fs.Int64Var(&c.Seed, "seed", 1, "random seed (the same seed gives the same events)")
	fs.IntVar(&c.Events, "events", 10000, "number of events")
	fs.IntVar(&c.Hosts, "hosts", 20, "number of hosts")
	fs.Float64Var(&c.AttackRate, "attack-rate", 0.01, "probability per chain slot of an attack chain")
	fs.Float64Var(&c.LookalikeRate, "lookalike-rate", 0.02, "probability per chain slot of a false-positive look-alike or near miss")
	fs.DurationVar(&c.Disorder, "disorder", 0, "bounded timestamp disorder per host")
	fs.Float64Var(&c.Rate, "rate", 1000, "events per second of event time over all hosts")
	return c
}

func cmdGen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := genFlags(fs)
	start := fs.String("start", "2026-01-01T00:00:00Z", "event time of the first event (RFC 3339)")
	output := fs.String("output", "", "write here instead of stdout")
	stats := fs.Bool("stats", false, "print what was injected on stderr")
	fs.Usage = usageFunc(fs, "processor gen [flags]")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	t, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		fmt.Fprintf(stderr, "gen: --start: %v\n", err)
		return exitUsage
	}
	c.Start = t
	g, err := gen.New(*c)
	if err != nil {
		fmt.Fprintf(stderr, "gen: %v\n", strings.TrimPrefix(err.Error(), "gen: "))
		return exitUsage
	}
	out := stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			fmt.Fprintf(stderr, "gen: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		out = f
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	if _, err := g.WriteNDJSON(bw); err != nil {
		fmt.Fprintf(stderr, "gen: %v\n", err)
		return exitFailure
	}
	if err := bw.Flush(); err != nil {
		fmt.Fprintf(stderr, "gen: %v\n", err)
		return exitFailure
	}
	if *stats {
		s := g.Stats()
		fmt.Fprintf(stderr, "gen: %d events, %d attack chains, %d look-alikes\n", s.Events, s.Chains, s.Lookalikes)
		kinds := make([]string, 0, len(s.ChainsByKind))
		for k := range s.ChainsByKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(stderr, "  %6d  %s\n", s.ChainsByKind[k], k)
		}
	}
	return exitOK
}
