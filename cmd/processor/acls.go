package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/eqlstream/eqlstream/acls"
	"github.com/eqlstream/eqlstream/kafkaconn"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cmdACLs prints the ACL bindings a `run` configuration needs, and with
// --check asks the brokers whether the connecting principal holds them.
func cmdACLs(args []string, stdout, stderr io.Writer) int {
	stderr = &syncWriter{w: stderr}
	fs := flag.NewFlagSet("acls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var kc kafkaconn.Options
	kc.Register(fs)
	input := fs.String("input-topic", "ecs-events", "input topics, comma separated")
	alerts := fs.String("alerts-topic", "eqlstream-alerts", "alerts topic")
	dlq := fs.String("dlq-topic", "eqlstream-dlq", "dead-letter topic")
	state := fs.String("state-topic", "", "state topic (default <group>-state)")
	group := fs.String("group", "eqlstream", "consumer group")
	rulesTopic := fs.String("rules-topic", "", "run's --rules-topic: Read on it")
	instance := fs.String("instance-id", "", "one instance's id: a literal ACL for its transactional ID eqlstream-<group>-<instance-id>")
	prefix := fs.String("transactional-id-prefix", "", "prefixed ACL covering every instance's transactional ID (default eqlstream-<group>- unless --instance-id)")
	create := fs.Bool("create-topics", false, "the instances create missing topics (adds Create)")
	principal := fs.String("principal", "", "principal to grant, e.g. User:eqlstream (default User:<--sasl-username>, else User:eqlstream)")
	host := fs.String("host", "*", "host the principal connects from")
	format := fs.String("format", "table", "table or commands (kafka-acls.sh command lines)")
	bootstrap := fs.String("bootstrap-server", "", "bootstrap server in the printed commands (default --brokers, else BROKER:9093)")
	cmdConfig := fs.String("command-config", "admin.properties", "admin client properties file in the printed commands (empty: none)")
	check := fs.Bool("check", false, "connect with the connection flags and check that the principal holds every binding (exit 1 if not)")
	fs.Usage = usageFunc(fs, "processor acls [--group G] [--instance-id I] [topic flags] [--format table|commands] [--check connection flags]")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "acls: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := envDefaults(fs, set); err != nil {
		fmt.Fprintf(stderr, "acls: %v\n", err)
		return exitUsage
	}
	if *format != "table" && *format != "commands" {
		fmt.Fprintf(stderr, "acls: unknown --format %q: table or commands\n", *format)
		return exitUsage
	}
	if *group == "" {
		fmt.Fprintln(stderr, "acls: no consumer group (--group)")
		return exitUsage
	}
	if *instance != "" && set["transactional-id-prefix"] {
		fmt.Fprintln(stderr, "acls: give --instance-id or --transactional-id-prefix, not both")
		return exitUsage
	}
	c := acls.Config{InputTopics: splitList(*input), AlertsTopic: *alerts, DLQTopic: *dlq, StateTopic: *state,
		RulesTopic: *rulesTopic, Group: *group, CreateTopics: *create, Host: *host}
	if c.StateTopic == "" {
		c.StateTopic = *group + "-state"
	}
	if len(c.InputTopics) == 0 || c.AlertsTopic == "" || c.DLQTopic == "" {
		fmt.Fprintln(stderr, "acls: --input-topic, --alerts-topic and --dlq-topic must not be empty")
		return exitUsage
	}
	base := "eqlstream-" + *group + "-"
	switch {
	case *instance != "":
		c.TransactionalID = base + *instance
	case *prefix != "":
		c.TransactionalIDPrefix = *prefix
	default:
		c.TransactionalIDPrefix = base
	}
	if c.TransactionalIDPrefix != "" {
		// the instance's own ID, for --check: the hostname as `run` uses
		h, _ := os.Hostname()
		c.TransactionalID = base + h
		if !strings.HasPrefix(c.TransactionalID, c.TransactionalIDPrefix) {
			c.TransactionalID = c.TransactionalIDPrefix
		}
	}
	var conn *kafkaconn.Config
	if *check {
		kc.PasswordOnCommandLine = set["sasl-password"]
		var err error
		if conn, err = kc.Build(); err != nil {
			fmt.Fprintf(stderr, "acls: %v\n", indentJoined(err))
			return exitUsage
		}
	}
	c.Principal = *principal
	switch {
	case c.Principal != "":
	case conn != nil && conn.Principal() != "":
		c.Principal = conn.Principal()
	case kc.SASLUsername != "":
		c.Principal = "User:" + kc.SASLUsername
	default:
		c.Principal = "User:eqlstream"
	}
	if !strings.Contains(c.Principal, ":") {
		fmt.Fprintf(stderr, "acls: --principal %q needs a type, e.g. User:%s\n", c.Principal, c.Principal)
		return exitUsage
	}
	bs := acls.Required(c)
	if *bootstrap == "" {
		*bootstrap = kc.Brokers
		if *bootstrap == "" {
			*bootstrap = "BROKER:9093"
		}
	}
	if *format == "commands" {
		for _, l := range acls.Commands(bs, c.Principal, c.Host, *bootstrap, *cmdConfig) {
			fmt.Fprintln(stdout, l)
		}
	} else {
		fmt.Fprint(stdout, acls.Table(bs, c.Principal))
	}
	if !*check {
		return exitOK
	}
	return checkACLs(conn, bs, stderr)
}

func checkACLs(conn *kafkaconn.Config, bs []acls.Binding, stderr io.Writer) int {
	log, _ := newLogger(stderr, "warn", "text")
	conn.LogWarnings(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := conn.Probe(ctx, log); err != nil {
		fmt.Fprintf(stderr, "acls: %v\n", err)
		return exitFailure
	}
	cl, err := kgo.NewClient(conn.Opts(log)...)
	if err != nil {
		fmt.Fprintf(stderr, "acls: %v\n", err)
		return exitFailure
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, conn.ConnectTimeout)
	defer cancel()
	err = acls.Check(cctx, cl, bs)
	var me *acls.MissingError
	switch {
	case errors.As(err, &me):
		for _, f := range me.Findings {
			fmt.Fprintf(stderr, "acls: %s: MISSING: %s\n", principalOf(conn), f)
		}
		return exitFailure
	case err != nil:
		fmt.Fprintf(stderr, "acls: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "acls: %s holds all %d bindings (Create is checked only for topics that do not exist)\n", principalOf(conn), len(bs))
	return exitOK
}
