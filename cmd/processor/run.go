package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/eqlstream/eqlstream/kafkaconn"
	"github.com/eqlstream/eqlstream/pipeline"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/eqlstream/eqlstream/rules/suppress"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

type runFlags struct {
	inputTopics, alertsTopic, dlqTopic, stateTopic, group, instanceID string
	rulesTopic                                                        string
	rulePaths                                                         multiFlag
	commitInterval, txnTimeout, idleFlush, sessionTimeout             time.Duration
	maxBatch, maxEventBytes                                           int
	createTopics                                                      bool
	partitions, replication                                           int
	kafka                                                             kafkaconn.Options
	metricsAddr, logLevel, logFormat                                  string
	embedded                                                          bool
	embeddedEvents                                                    int
	unsafeMode                                                        string
	ef                                                                engineFlags
	xf                                                                exceptionFlags
	af                                                                alertFormat
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	stderr = &syncWriter{w: stderr}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	f.kafka.Register(fs)
	fs.StringVar(&f.inputTopics, "input-topic", "ecs-events", "input topics, comma separated (partitioned by host.id)")
	fs.StringVar(&f.alertsTopic, "alerts-topic", "eqlstream-alerts", "alerts output topic")
	fs.StringVar(&f.dlqTopic, "dlq-topic", "eqlstream-dlq", "dead-letter topic")
	fs.StringVar(&f.stateTopic, "state-topic", "", "compacted state topic (default <group>-state)")
	fs.StringVar(&f.group, "group", "eqlstream", "consumer group")
	fs.StringVar(&f.instanceID, "instance-id", "", "stable, unique instance id (gives the transactional id); default: the hostname")
	fs.Var(&f.rulePaths, "rules", "rule file or directory (repeatable; default: the built-in detections); reloaded on SIGHUP and when the files change")
	fs.StringVar(&f.rulesTopic, "rules-topic", "", "take the rules from this compacted one-partition topic (processor rules push) and follow it; not with --rules")
	fs.DurationVar(&f.commitInterval, "commit-interval", 100*time.Millisecond, "transaction commit interval")
	fs.DurationVar(&f.idleFlush, "idle-flush", 2*time.Second, "release a quiet partition's reorder buffer after this long without events (negative: never)")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", 10*time.Second, "consumer group session timeout")
	fs.DurationVar(&f.txnTimeout, "transaction-timeout", 10*time.Second, "Kafka transaction timeout")
	fs.IntVar(&f.maxBatch, "max-batch-records", 5000, "records per transaction at most")
	fs.IntVar(&f.maxEventBytes, "max-event-bytes", 1<<20, "larger events go to the dead-letter topic")
	fs.BoolVar(&f.createTopics, "create-topics", false, "create missing topics")
	fs.IntVar(&f.partitions, "partitions", 6, "partitions of created topics")
	fs.IntVar(&f.replication, "replication-factor", 1, "replication factor of created topics")
	fs.StringVar(&f.metricsAddr, "metrics-addr", ":9464", "address of /metrics, /healthz, /readyz (empty: off)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&f.embedded, "embedded", false, "demo: an in-process broker (kfake) fed by the generator; NOT for production")
	fs.IntVar(&f.embeddedEvents, "embedded-events", 20000, "events the embedded demo generates")
	fs.StringVar(&f.unsafeMode, "unsafe-test-mode", "", "negative controls for the exactly-once checker: keep-state-on-abort, at-least-once or flush-unrecorded (idle flushes not recorded in the state); never in production")
	f.ef.register(fs)
	f.xf.register(fs)
	f.af.register(fs)
	fs.Usage = usageFunc(fs, "processor run [--brokers B] [--embedded] [flags] (every flag is also EQLSTREAM_<NAME>)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if err := envDefaults(fs, set); err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitUsage
	}
	if f.embedded && !set["log-level"] && os.Getenv("EQLSTREAM_LOG_LEVEL") == "" {
		f.logLevel = "warn" // the demo prints alerts, not the pipeline's log
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitUsage
	}
	var conn *kafkaconn.Config
	var cfg pipeline.Config
	if !f.embedded {
		// flags first: a usage error is exit 2 before anything is loaded
		f.kafka.PasswordOnCommandLine = set["sasl-password"]
		var err error
		if conn, err = f.kafka.Build(); err != nil {
			fmt.Fprintf(stderr, "run: %v\n", indentJoined(err))
			return exitUsage
		}
		if cfg, err = f.config(conn); err != nil {
			fmt.Fprintf(stderr, "run: %v\n", indentJoined(err))
			return exitUsage
		}
	}
	if err := liveRuleFlagsError(&f); err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitUsage
	}
	rs, err := loadRules(f.rulePaths, "", stderr)
	if f.rulesTopic != "" {
		rs, err = nil, nil // the topic's rules, read below
	}
	if err != nil {
		printCompileErrors(stderr, err)
		return exitRules
	}
	if err := f.xf.apply(rs); err != nil {
		printCompileErrors(stderr, err)
		return exitRules
	}
	opts := f.ef.options()
	opts.RequiredFields = []string{"host.id"}
	ruleSet, err := rules.Compile(rs, opts)
	if err != nil {
		printCompileErrors(stderr, err)
		return exitRules
	}
	if err := suppress.CheckScope(ruleSet, "host.id"); err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitRules
	}
	if err := f.af.apply(ruleSet); err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitUsage
	}
	for _, r := range ruleSet.Program.Rules() {
		if !r.HostScoped && r.Kind.String() != "event" {
			log.Warn("sequence join keys are not host-scoped: it only matches events within one partition", "rule_id", r.ID)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer startCPUProfile(log)()
	if f.embedded {
		return runEmbedded(ctx, &f, ruleSet, log, stdout, stderr)
	}
	conn.LogWarnings(log)
	if err := preflight(ctx, conn, cfg, log); err != nil {
		if ctx.Err() != nil {
			return exitOK // stopped by a signal while connecting
		}
		log.Error("startup check failed", "err", err)
		return exitFailure
	}
	reg, m := newRegistry()
	live, err := startLiveRules(ctx, &f, conn, ruleSet, opts, log, reg)
	if err != nil {
		if ctx.Err() != nil {
			return exitOK
		}
		log.Error("rules", "err", err)
		return exitFailure
	}
	if live != nil {
		cfg.LiveRules = live
		ruleSet = live.Current()
	}
	p, err := pipeline.New(cfg, ruleSet, log, m, conn.Opts(log)...)
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return exitUsage
	}
	return runPipeline(ctx, cfg, ruleSet, log, f.metricsAddr, p, reg)
}

// config gives the pipeline's configuration; TLS and SASL are not in it but
// in the client options of conn (see package kafkaconn).
func (f *runFlags) config(conn *kafkaconn.Config) (pipeline.Config, error) {
	if f.instanceID == "" {
		h, _ := os.Hostname()
		f.instanceID = h
	}
	cfg := pipeline.Config{
		Brokers: conn.Brokers, InputTopics: splitList(f.inputTopics), AlertsTopic: f.alertsTopic,
		DLQTopic: f.dlqTopic, StateTopic: f.stateTopic, Group: f.group, InstanceID: f.instanceID,
		CommitInterval: f.commitInterval, IdleFlush: f.idleFlush, SessionTimeout: f.sessionTimeout, TransactionTimeout: f.txnTimeout, MaxBatchRecords: f.maxBatch,
		MaxEventBytes: f.maxEventBytes, CreateTopics: f.createTopics, Partitions: int32(f.partitions),
		ReplicationFactor: int16(f.replication), RulesTopic: f.rulesTopic,
	}
	switch f.unsafeMode {
	case "":
	case "keep-state-on-abort":
		cfg.UnsafeKeepStateOnAbort = true
	case "at-least-once":
		cfg.UnsafeAtLeastOnce = true
	case "flush-unrecorded":
		cfg.UnsafeFlushUnrecorded = true
	default:
		return cfg, fmt.Errorf("unknown --unsafe-test-mode %q", f.unsafeMode)
	}
	return cfg, cfg.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// statusInterval is how often run logs its one-line status.
var statusInterval = 30 * time.Second

// runPipeline runs one pipeline with its metrics server until ctx ends. A
// pipeline built by the caller (p) must have its metrics in reg (see
// newRegistry); with p nil both are made here, and extra are the client
// options (connection, TLS, SASL, logger) of the pipeline it makes.
func runPipeline(ctx context.Context, cfg pipeline.Config, set *rules.RuleSet, log *slog.Logger, metricsAddr string, p *pipeline.Pipeline, reg *prometheus.Registry, extra ...kgo.Opt) int {
	if p == nil {
		var m *pipeline.Metrics
		reg, m = newRegistry()
		var err error
		p, err = pipeline.New(cfg, set, log, m, extra...)
		if err != nil {
			log.Error("invalid configuration", "err", err)
			return exitUsage
		}
	}
	if metricsAddr != "" {
		stopHTTP, err := serveHTTP(metricsAddr, reg, p.Health(), log)
		if err != nil {
			log.Error("metrics listener", "addr", metricsAddr, "err", err)
			return exitFailure
		}
		defer stopHTTP()
	}
	statusCtx, stopStatus := context.WithCancel(ctx)
	defer stopStatus()
	go logStatus(statusCtx, log, reg, statusInterval)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// bounded shutdown: end the transaction and leave the group
		select {
		case err = <-done:
		case <-time.After(cfg.TransactionTimeout*2 + 10*time.Second):
			log.Error("shutdown timed out")
			return exitFailure
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("pipeline failed", "err", err)
		return exitFailure
	}
	return exitOK
}
