package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
	"github.com/eqlstream/eqlstream/pipeline"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rulesets"
	"github.com/eqlstream/eqlstream/sinks"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runEmbedded is the zero-setup demo: an in-process Kafka (kfake), the
// generator feeding it, the real pipeline, and each alert printed as its
// transaction commits. It stops when every event has been processed.
// NOT for production: kfake keeps everything in memory.
func runEmbedded(ctx context.Context, f *runFlags, set *rules.RuleSet, log *slog.Logger, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "eqlstream: embedded demo (in-process kfake broker, not for production)")
	const parts = 6
	input := "ecs-events"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, input))
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitFailure
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	cfg := pipeline.Config{
		Brokers: brokers, InputTopics: []string{input}, AlertsTopic: "eqlstream-alerts", DLQTopic: "eqlstream-dlq",
		Group: "eqlstream-demo", InstanceID: "demo-1", CommitInterval: f.commitInterval,
		CreateTopics: true, Partitions: parts, ReplicationFactor: 1,
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitFailure
	}
	// events
	gcfg := gen.Config{Seed: 1, Events: f.embeddedEvents, Hosts: 25, AttackRate: 0.02, LookalikeRate: 0.03,
		Disorder: 500 * time.Millisecond, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g, err := gen.New(gcfg)
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitFailure
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(input))
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitFailure
	}
	defer prod.Close()
	var buf []byte
	n := 0
	for {
		var host string
		var ok bool
		buf, host, ok = g.Next(buf[:0])
		if !ok {
			break
		}
		prod.Produce(ctx, &kgo.Record{Key: []byte(host), Value: append([]byte(nil), buf...)}, nil)
		n++
	}
	if err := prod.Flush(ctx); err != nil {
		fmt.Fprintf(stderr, "run: producing: %v\n", err)
		return exitFailure
	}
	st := g.Stats()
	fmt.Fprintf(stderr, "eqlstream: produced %d events over %d hosts (%d attack chains, %d look-alikes) to %s\n",
		n, gcfg.Hosts, st.Chains, st.Lookalikes, input)

	var mu sync.Mutex
	perRule := map[string]int{}
	total := 0
	reg, m := newRegistry()                                         // /metrics shows this pipeline's metrics
	rulesets.NewLive(log, rulesets.NewMetrics(reg)).Offer(set, nil) // the rules metrics (a fixed set)
	p, err := pipeline.New(cfg, set, log, m)
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitFailure
	}
	p.OnCommit = func(alerts [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range alerts {
			line, name, _ := sinks.AlertSummary(a)
			fmt.Fprintln(stdout, line)
			perRule[name]++
			total++
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// stop once the group's committed offsets reach the end of the input
	go func() {
		adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			return
		}
		defer adm.Close()
		ac := kadm.NewClient(adm)
		for runCtx.Err() == nil {
			time.Sleep(300 * time.Millisecond)
			ends, err1 := ac.ListEndOffsets(runCtx, input)
			committed, err2 := ac.FetchOffsets(runCtx, cfg.Group)
			if err1 != nil || err2 != nil {
				continue
			}
			done := true
			ends.Each(func(o kadm.ListedOffset) {
				c, ok := committed.Lookup(o.Topic, o.Partition)
				if !ok || c.At < o.Offset {
					done = false
				}
			})
			if done {
				cancel()
				return
			}
		}
	}()
	start := time.Now()
	rc := runPipeline(runCtx, cfg, set, log, f.metricsAddr, p, reg)
	if rc != exitOK {
		return rc
	}
	mu.Lock()
	fmt.Fprintf(stderr, "eqlstream: %d events processed exactly once in %s, %d alerts:\n", n, time.Since(start).Round(time.Millisecond), total)
	names := make([]string, 0, len(perRule))
	for name := range perRule {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(stderr, "  %5d  %s\n", perRule[name], name)
	}
	mu.Unlock()
	return rc
}
