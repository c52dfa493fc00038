package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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

	"github.com/eqlstream/eqlstream/pipeline"
	"github.com/eqlstream/eqlstream/rules"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// envDefaults sets every flag not given on the command line from
// EQLSTREAM_<NAME> (dashes become underscores).
func envDefaults(fs *flag.FlagSet, set map[string]bool) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := "EQLSTREAM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil && err == nil {
				err = fmt.Errorf("%s: %w", env, e)
			}
		}
	})
	return err
}

type runFlags struct {
	brokers, inputTopics, alertsTopic, dlqTopic, stateTopic, group, instanceID string
	rulePaths                                                                  multiFlag
	commitInterval, txnTimeout, idleFlush, sessionTimeout                      time.Duration
	maxBatch, maxEventBytes                                                    int
	createTopics                                                               bool
	partitions, replication                                                    int
	tlsOn                                                                      bool
	tlsCA, tlsCert, tlsKey                                                     string
	tlsInsecure                                                                bool
	saslMech, saslUser, saslPass                                               string
	metricsAddr, logLevel, logFormat                                           string
	embedded                                                                   bool
	embeddedEvents                                                             int
	unsafeMode                                                                 string
	ef                                                                         engineFlags
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.StringVar(&f.brokers, "brokers", "", "Kafka bootstrap brokers, comma separated")
	fs.StringVar(&f.inputTopics, "input-topic", "ecs-events", "input topics, comma separated (partitioned by host.id)")
	fs.StringVar(&f.alertsTopic, "alerts-topic", "eqlstream-alerts", "alerts output topic")
	fs.StringVar(&f.dlqTopic, "dlq-topic", "eqlstream-dlq", "dead-letter topic")
	fs.StringVar(&f.stateTopic, "state-topic", "", "compacted state topic (default <group>-state)")
	fs.StringVar(&f.group, "group", "eqlstream", "consumer group")
	fs.StringVar(&f.instanceID, "instance-id", "", "stable, unique instance id (gives the transactional id); default: the hostname")
	fs.Var(&f.rulePaths, "rules", "rule file or directory (repeatable; default: the built-in detections)")
	fs.DurationVar(&f.commitInterval, "commit-interval", 100*time.Millisecond, "transaction commit interval")
	fs.DurationVar(&f.idleFlush, "idle-flush", 2*time.Second, "release a quiet partition's reorder buffer after this long without events (negative: never)")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", 10*time.Second, "consumer group session timeout")
	fs.DurationVar(&f.txnTimeout, "transaction-timeout", 10*time.Second, "Kafka transaction timeout")
	fs.IntVar(&f.maxBatch, "max-batch-records", 5000, "records per transaction at most")
	fs.IntVar(&f.maxEventBytes, "max-event-bytes", 1<<20, "larger events go to the dead-letter topic")
	fs.BoolVar(&f.createTopics, "create-topics", false, "create missing topics")
	fs.IntVar(&f.partitions, "partitions", 6, "partitions of created topics")
	fs.IntVar(&f.replication, "replication-factor", 1, "replication factor of created topics")
	fs.BoolVar(&f.tlsOn, "tls", false, "connect with TLS")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "CA certificate file (PEM)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "client certificate file (PEM)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "client key file (PEM)")
	fs.BoolVar(&f.tlsInsecure, "tls-insecure-skip-verify", false, "do not verify the brokers' certificates")
	fs.StringVar(&f.saslMech, "sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	fs.StringVar(&f.saslUser, "sasl-username", "", "SASL username")
	fs.StringVar(&f.saslPass, "sasl-password", "", "SASL password")
	fs.StringVar(&f.metricsAddr, "metrics-addr", ":9464", "address of /metrics, /healthz, /readyz (empty: off)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&f.embedded, "embedded", false, "demo: an in-process broker (kfake) fed by the generator; NOT for production")
	fs.IntVar(&f.embeddedEvents, "embedded-events", 20000, "events the embedded demo generates")
	fs.StringVar(&f.unsafeMode, "unsafe-test-mode", "", "negative controls for the exactly-once checker: keep-state-on-abort, at-least-once or flush-unrecorded (idle flushes not recorded in the state); never in production")
	f.ef.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitUsage
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
	log := newLogger(stderr, f.logLevel, f.logFormat)
	rs, err := loadRules(f.rulePaths, "", stderr)
	if err != nil {
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
	for _, r := range ruleSet.Program.Rules() {
		if !r.HostScoped && r.Kind.String() != "event" {
			log.Warn("sequence join keys are not host-scoped: it only matches events within one partition", "rule_id", r.ID)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.embedded {
		return runEmbedded(ctx, &f, ruleSet, log, stdout, stderr)
	}
	cfg, err := f.config()
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitUsage
	}
	return runPipeline(ctx, cfg, ruleSet, log, f.metricsAddr, nil)
}

func (f *runFlags) config() (pipeline.Config, error) {
	if f.instanceID == "" {
		h, _ := os.Hostname()
		f.instanceID = h
	}
	cfg := pipeline.Config{
		Brokers: splitList(f.brokers), InputTopics: splitList(f.inputTopics), AlertsTopic: f.alertsTopic,
		DLQTopic: f.dlqTopic, StateTopic: f.stateTopic, Group: f.group, InstanceID: f.instanceID,
		CommitInterval: f.commitInterval, IdleFlush: f.idleFlush, SessionTimeout: f.sessionTimeout, TransactionTimeout: f.txnTimeout, MaxBatchRecords: f.maxBatch,
		MaxEventBytes: f.maxEventBytes, CreateTopics: f.createTopics, Partitions: int32(f.partitions),
		ReplicationFactor: int16(f.replication),
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
	if f.tlsOn || f.tlsCA != "" || f.tlsCert != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.tlsInsecure}
		if f.tlsCA != "" {
			pem, err := os.ReadFile(f.tlsCA)
			if err != nil {
				return cfg, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return cfg, fmt.Errorf("%s: no certificates", f.tlsCA)
			}
			tc.RootCAs = pool
		}
		if f.tlsCert != "" {
			cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
			if err != nil {
				return cfg, err
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		cfg.TLS = tc
	}
	var mech sasl.Mechanism
	switch strings.ToUpper(f.saslMech) {
	case "":
	case "PLAIN":
		mech = plain.Auth{User: f.saslUser, Pass: f.saslPass}.AsMechanism()
	case "SCRAM-SHA-256":
		mech = scram.Auth{User: f.saslUser, Pass: f.saslPass}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		mech = scram.Auth{User: f.saslUser, Pass: f.saslPass}.AsSha512Mechanism()
	default:
		return cfg, fmt.Errorf("unknown --sasl-mechanism %q", f.saslMech)
	}
	cfg.SASL = mech
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

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	o := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// runPipeline runs one pipeline with its metrics server until ctx ends.
func runPipeline(ctx context.Context, cfg pipeline.Config, set *rules.RuleSet, log *slog.Logger, metricsAddr string, p *pipeline.Pipeline) int {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := pipeline.NewMetrics(reg)
	if p == nil {
		var err error
		p, err = pipeline.New(cfg, set, log, m)
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
