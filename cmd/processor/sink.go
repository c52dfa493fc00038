package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/eqlstream/eqlstream/kafkaconn"
	eslink "github.com/eqlstream/eqlstream/sinks/elasticsearch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// cmdSink runs a sink; the one there is: elasticsearch.
func cmdSink(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "elasticsearch" && args[0] != "-h" && args[0] != "--help") {
		fmt.Fprintln(stderr, "usage: processor sink elasticsearch --brokers B --es-url URL [flags] ('processor sink elasticsearch --help' lists them)")
		return exitUsage
	}
	if args[0] != "elasticsearch" {
		fmt.Fprintln(stdout, "usage: processor sink elasticsearch --brokers B --es-url URL [flags]")
		return exitOK
	}
	return cmdSinkES(args[1:], stdout, stderr)
}

func cmdSinkES(args []string, stdout, stderr io.Writer) int {
	stderr = &syncWriter{w: stderr}
	fs := flag.NewFlagSet("sink elasticsearch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var kc kafkaconn.Options
	kc.Register(fs)
	var cfg eslink.Config
	var urls, metricsAddr, logLevel, logFormat string
	fs.StringVar(&cfg.AlertsTopic, "alerts-topic", "eqlstream-alerts", "topic of alert documents (read read_committed)")
	fs.StringVar(&cfg.Group, "group", "eqlstream-es-sink", "consumer group (offsets committed after indexing)")
	fs.StringVar(&cfg.DLQTopic, "dlq-topic", "eqlstream-es-dlq", "dead-letter topic for documents Elasticsearch rejects")
	var dlqParts, dlqRF int
	fs.BoolVar(&cfg.CreateDLQ, "create-topics", false, "create the dead-letter topic when it is missing")
	fs.IntVar(&dlqParts, "partitions", 3, "partitions of a created dead-letter topic")
	fs.IntVar(&dlqRF, "replication-factor", 1, "replication factor of a created dead-letter topic")
	fs.StringVar(&urls, "es-url", "", "Elasticsearch URLs, comma separated (https://host:9200)")
	fs.StringVar(&cfg.Index, "index", "eqlstream-alerts", "index (or alias) the alerts go to; the template matches <index>*")
	fs.StringVar(&cfg.TemplateName, "template-name", "eqlstream-alerts", "name of the index template installed at start")
	fs.BoolVar(&cfg.InstallTemplate, "install-template", true, "install (or update) the index template at start")
	fs.IntVar(&cfg.BatchRecords, "batch-records", 1000, "records per bulk request at most")
	fs.DurationVar(&cfg.MaxBackoff, "max-backoff", 10*time.Second, "longest wait between retries of a failed bulk request")
	fs.DurationVar(&cfg.ES.RequestTimeout, "es-timeout", 30*time.Second, "bound on one Elasticsearch request")
	fs.StringVar(&cfg.ES.Username, "es-username", "", "basic-auth user (password from --es-password-file or EQLSTREAM_ES_PASSWORD)")
	fs.StringVar(&cfg.ES.PasswordFile, "es-password-file", "", "file holding the basic-auth password")
	fs.StringVar(&cfg.ES.APIKeyFile, "es-api-key-file", "", "file holding an API key (base64 id:key, the \"encoded\" value); or EQLSTREAM_ES_API_KEY")
	fs.StringVar(&cfg.ES.CAFile, "es-ca", "", "PEM CA certificate(s) of the cluster (default: the system's)")
	fs.BoolVar(&cfg.ES.InsecureSkipVerify, "es-insecure-skip-verify", false, "do NOT verify the cluster's certificate (testing only)")
	fs.StringVar(&metricsAddr, "metrics-addr", ":9465", "address of /metrics, /healthz, /readyz (empty: off)")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&logFormat, "log-format", "text", "text or json")
	fs.Usage = usageFunc(fs, "processor sink elasticsearch --brokers B --es-url URL [--alerts-topic T] [--index NAME] [flags] (every flag is also EQLSTREAM_<NAME>)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := envDefaults(fs, set); err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", indentJoined(err))
		return exitUsage
	}
	log, err := newLogger(stderr, logLevel, logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return exitUsage
	}
	kc.PasswordOnCommandLine = set["sasl-password"]
	conn, err := kc.Build()
	if err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", indentJoined(err))
		return exitUsage
	}
	cfg.ES.URLs = splitList(urls)
	cfg.DLQPartitions, cfg.DLQReplication = int32(dlqParts), int16(dlqRF)
	cfg.ES.Password = os.Getenv("EQLSTREAM_ES_PASSWORD")
	cfg.ES.APIKey = os.Getenv("EQLSTREAM_ES_API_KEY")
	if cfg.ES.InsecureSkipVerify {
		log.Warn("--es-insecure-skip-verify: the Elasticsearch certificate is NOT verified")
	}
	for _, u := range cfg.ES.URLs {
		if strings.HasPrefix(u, "http://") && (cfg.ES.PasswordFile != "" || cfg.ES.APIKeyFile != "" || cfg.ES.Password != "" || cfg.ES.APIKey != "") {
			log.Warn("credentials over plain http", "url", u)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s, err := eslink.New(cfg, log, eslink.NewMetrics(reg), conn.Opts(log)...)
	if err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return exitUsage
	}
	defer s.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if metricsAddr != "" {
		stopHTTP, err := serveHTTP(metricsAddr, reg, s.Health(), log)
		if err != nil {
			log.Error("metrics listener", "err", err)
			return exitFailure
		}
		defer stopHTTP()
	}
	log.Info("sink starting", "alerts_topic", cfg.AlertsTopic, "group", cfg.Group, "index", cfg.Index, "dlq_topic", cfg.DLQTopic)
	if err := s.Run(ctx); err != nil {
		log.Error("sink failed", "err", err)
		return exitFailure
	}
	return exitOK
}
