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
	"github.com/eqlstream/eqlstream/sinks"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cmdConsume reads a topic with read_committed, as a downstream system
// sees it: alerts as the one-line ALERT summary (or raw JSON with --json),
// dead letters with their reason and source, anything else raw. Without
// --follow it stops at the topic's last stable offset and prints a count.
func cmdConsume(args []string, stdout, stderr io.Writer) int {
	stderr = &syncWriter{w: stderr}
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var kc kafkaconn.Options
	kc.Register(fs)
	topic := fs.String("topic", "eqlstream-alerts", "topic to read")
	asJSON := fs.Bool("json", false, "print each record's value as it is (one JSON document per line)")
	fromStart := fs.Bool("from-beginning", false, "start at the oldest record (default: the end, so only new records with --follow)")
	follow := fs.Bool("follow", false, "keep reading new records until interrupted")
	maxN := fs.Int("max", 0, "stop after this many records (0: no limit)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	fs.Usage = usageFunc(fs, "processor consume --brokers B [--topic T] [--from-beginning] [--follow] [--json] [connection flags]")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "consume: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := envDefaults(fs, set); err != nil {
		fmt.Fprintf(stderr, "consume: %v\n", indentJoined(err))
		return exitUsage
	}
	kc.PasswordOnCommandLine = set["sasl-password"]
	conn, err := kc.Build()
	if err != nil {
		fmt.Fprintf(stderr, "consume: %v\n", indentJoined(err))
		return exitUsage
	}
	if !*fromStart && !*follow {
		fmt.Fprintln(stderr, "consume: without --from-beginning or --follow there is nothing to read (give one or both)")
		return exitUsage
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		fmt.Fprintf(stderr, "consume: %v\n", err)
		return exitUsage
	}
	conn.LogWarnings(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := conn.Probe(ctx, log); err != nil {
		fmt.Fprintf(stderr, "consume: %v\n", err)
		return exitFailure
	}
	n, err := consumeTopic(ctx, conn.Opts(log), *topic, *fromStart, *follow, *maxN, *asJSON, stdout)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "consume: %s: %v\n", *topic, err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "consume: %d records from %s\n", n, *topic)
	return exitOK
}

func consumeTopic(ctx context.Context, opts []kgo.Opt, topic string, fromStart, follow bool, maxN int, asJSON bool, out io.Writer) (int, error) {
	start := kgo.NewOffset().AtEnd()
	if fromStart {
		start = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // the last stable offset may be a commit marker
	)...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	// Without --follow: read up to the last stable offset of every partition
	// as it is now (the read_committed end).
	var need map[int32]int64
	if !follow {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ends, err := kadm.NewClient(cl).ListCommittedOffsets(lctx, topic)
		cancel()
		if err != nil {
			return 0, err
		}
		if err := ends.Error(); err != nil {
			return 0, err
		}
		starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, topic)
		if err != nil {
			return 0, err
		}
		need = map[int32]int64{}
		ends.Each(func(o kadm.ListedOffset) {
			if s, ok := starts.Lookup(topic, o.Partition); !ok || s.Offset < o.Offset {
				need[o.Partition] = o.Offset
			}
		})
		if len(need) == 0 {
			return 0, nil
		}
	}
	n := 0
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return n, ferr
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if done {
				return
			}
			if !r.Attrs.IsControl() {
				printRecord(out, r, asJSON)
				n++
				if maxN > 0 && n >= maxN {
					done = true
				}
			}
			if need != nil {
				if end, ok := need[r.Partition]; ok && r.Offset >= end-1 {
					delete(need, r.Partition)
				}
			}
		})
		if done || (need != nil && len(need) == 0) {
			return n, nil
		}
	}
}

func printRecord(out io.Writer, r *kgo.Record, asJSON bool) {
	if asJSON {
		fmt.Fprintf(out, "%s\n", r.Value)
		return
	}
	h := map[string]string{}
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	if reason := h[sinks.HeaderReason]; reason != "" {
		fmt.Fprintf(out, "DEAD   %s  from %s/%s@%s: %s\n", reason, h[sinks.HeaderSrcTopic], h[sinks.HeaderSrcPartition],
			h[sinks.HeaderSrcOffset], h[sinks.HeaderError])
		return
	}
	if line, _, ok := sinks.AlertSummary(r.Value); ok {
		fmt.Fprintln(out, line)
		return
	}
	fmt.Fprintf(out, "%s\n", r.Value)
}
