package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eqlstream/eqlstream/partition"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cmdFlushes prints the idle flush points a processor group committed, per
// input partition, from the state topic's meta-record history (read
// committed, from the start to the last stable offset). They are what `eval
// --flush-at` replays: with the partition's records dumped one per line from
// offset 0 (and no offset gaps), a flush point (an input offset) is the line
// count after which to flush.
func cmdFlushes(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flushes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "", "Kafka bootstrap brokers")
	input := fs.String("input-topic", "ecs-events", "input topic the state belongs to")
	group := fs.String("group", "eqlstream", "consumer group (the state topic defaults to <group>-state)")
	stateTopic := fs.String("state-topic", "", "state topic (default <group>-state)")
	part := fs.Int("partition", -1, "print only this input partition's flush points, comma separated (for eval --flush-at)")
	timeout := fs.Duration("timeout", time.Minute, "give up reading after this long")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := envDefaults(fs, set); err != nil {
		fmt.Fprintf(stderr, "flushes: %v\n", err)
		return exitUsage
	}
	if *brokers == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: processor flushes --brokers B [--input-topic T] [--group G | --state-topic S] [--partition N]")
		return exitUsage
	}
	if *stateTopic == "" {
		*stateTopic = *group + "-state"
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	hist, err := readFlushHistory(ctx, splitList(*brokers), *stateTopic, *input)
	if err != nil {
		fmt.Fprintf(stderr, "flushes: %s: %v\n", *stateTopic, err)
		return exitFailure
	}
	parts := make([]int32, 0, len(hist))
	for p := range hist {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	code := exitOK
	for _, p := range parts {
		ph := hist[p]
		if *part >= 0 && int32(*part) != p {
			continue
		}
		if ph.err != nil {
			fmt.Fprintf(stderr, "flushes: %s/%d: %v\n", *input, p, ph.err)
			code = exitFailure
		}
		pts := make([]string, len(ph.Points))
		for i, o := range ph.Points {
			pts[i] = strconv.FormatInt(o, 10)
		}
		if *part >= 0 {
			fmt.Fprintln(stdout, strings.Join(pts, ","))
			continue
		}
		fmt.Fprintf(stdout, "%s/%d next=%d flushes=%d records=%d points=%s", *input, p, ph.Last.Next, ph.Last.Flushes, ph.Records, strings.Join(pts, ","))
		if len(ph.Revisions) > 0 {
			revs := make([]string, len(ph.Revisions))
			for i, r := range ph.Revisions {
				revs[i] = fmt.Sprintf("%d@%d=%s", r.From, r.Flushes, r.Revision)
			}
			fmt.Fprintf(stdout, " revisions=%s", strings.Join(revs, ","))
		}
		fmt.Fprintln(stdout)
	}
	return code
}

type flushHist struct {
	partition.FlushHistory
	err error // the first inconsistency
}

// readFlushHistory reads the state topic with read_committed up to its last
// stable offsets and feeds each input partition's meta records, in offset
// order, to a partition.FlushHistory.
func readFlushHistory(ctx context.Context, brokers []string, stateTopic, input string) (map[int32]*flushHist, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(stateTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, stateTopic)
	if err != nil {
		return nil, err
	}
	need := map[int32]int64{}
	keys := map[string]int32{}
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
		}
		keys[string(partition.MetaKey(partition.TP{Topic: input, Partition: o.Partition}))] = o.Partition
		if o.Offset > 0 {
			need[o.Partition] = o.Offset
		}
	})
	if lerr != nil {
		return nil, lerr
	}
	if len(keys) == 0 {
		return nil, errors.New("topic not found")
	}
	out := map[int32]*flushHist{}
	for len(need) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("reading: %w", ctx.Err())
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := need[r.Partition]
			if !ok {
				return
			}
			if p, ok := keys[string(r.Key)]; ok && !r.Attrs.IsControl() {
				ph := out[p]
				if ph == nil {
					ph = &flushHist{}
					out[p] = ph
				}
				if err := ph.Add(r.Value); err != nil && ph.err == nil {
					ph.err = fmt.Errorf("state offset %d: %w", r.Offset, err)
				}
			}
			if r.Offset >= end-1 {
				delete(need, r.Partition)
			}
		})
	}
	return out, nil
}
