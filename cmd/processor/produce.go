package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"time"

	"github.com/eqlstream/eqlstream/acls"
	"github.com/eqlstream/eqlstream/kafkaconn"
	json "github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// hostID extracts host.id from an event: nested, dotted, or a mix.
func hostID(raw []byte) (string, bool) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", false
	}
	if v, ok := doc["host.id"].(string); ok {
		return v, true
	}
	if h, ok := doc["host"].(map[string]any); ok {
		if v, ok := h["id"].(string); ok {
			return v, true
		}
	}
	return "", false
}

func cmdProduce(args []string, stdin io.Reader, stderr io.Writer) int {
	stderr = &syncWriter{w: stderr}
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var kc kafkaconn.Options
	kc.Register(fs)
	topic := fs.String("topic", "", "topic to produce to (default: EQLSTREAM_INPUT_TOPIC)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error (the Kafka client's own messages at debug)")
	createTopic := fs.Bool("create-topics", false, "create the topic when it does not exist")
	partitions := fs.Int("partitions", 6, "partitions of a created topic (as run --partitions)")
	replication := fs.Int("replication-factor", 1, "replication factor of a created topic (as run --replication-factor)")
	fs.Usage = usageFunc(fs, "processor produce --brokers B --topic T [connection flags] [FILE|-]...")
	if code, ok := parseFlags(fs, args, os.Stdout); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := envDefaults(fs, set); err != nil {
		fmt.Fprintf(stderr, "produce: %v\n", err)
		return exitUsage
	}
	if *topic == "" {
		*topic = os.Getenv("EQLSTREAM_INPUT_TOPIC")
	}
	kc.PasswordOnCommandLine = set["sasl-password"]
	conn, err := kc.Build()
	if err == nil && *topic == "" {
		err = errors.New("no topic: set --topic (or EQLSTREAM_INPUT_TOPIC)")
	}
	if err != nil {
		fmt.Fprintf(stderr, "produce: %v\nusage: processor produce --brokers B --topic T [connection flags] [FILE|-]...\n", indentJoined(err))
		return exitUsage
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		fmt.Fprintf(stderr, "produce: %v\n", err)
		return exitUsage
	}
	conn.LogWarnings(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := conn.Probe(ctx, log); err != nil {
		fmt.Fprintf(stderr, "produce: %v\n", err)
		return exitFailure
	}
	cl, err := kgo.NewClient(append(conn.Opts(log), kgo.DefaultProduceTopic(*topic),
		kgo.ProducerBatchMaxBytes(4<<20), kgo.MaxBufferedRecords(100000),
		// a broker lost after the probe fails the command instead of
		// retrying forever
		kgo.RecordDeliveryTimeout(max(30*time.Second, 3*conn.ConnectTimeout)))...)
	if err != nil {
		fmt.Fprintf(stderr, "produce: %v\n", err)
		return exitFailure
	}
	defer cl.Close()
	if *createTopic {
		if err := ensureTopic(ctx, cl, *topic, int32(*partitions), int16(*replication), stderr); err != nil {
			fmt.Fprintf(stderr, "produce: %v\n", err)
			return exitFailure
		}
	}
	cctx, cancel := context.WithTimeout(ctx, conn.ConnectTimeout)
	err = acls.Check(cctx, cl, acls.ForProducer(*topic))
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "produce: %v\n", err)
		return exitFailure
	}
	n, err := produceNDJSON(ctx, cl, *topic, fs.Args(), stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "produce: %d records read, not all acknowledged by topic %q: %v\n", n, *topic, err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "produce: %d records to %s\n", n, *topic)
	return exitOK
}

// produceNDJSON publishes every line of the inputs, keyed by host.id, with
// the client's idempotent producer, and waits until all are acknowledged.
func produceNDJSON(ctx context.Context, cl *kgo.Client, topic string, inputs []string, stdin io.Reader, stderr io.Writer) (int, error) {
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	var n int
	var failed atomic.Pointer[error]
	for _, in := range inputs {
		r, closeFn, err := openInput(in, stdin)
		if err != nil {
			return n, err
		}
		br := bufio.NewReaderSize(r, 1<<20)
		for {
			line, rerr := readLine(br)
			if errors.Is(rerr, errTooLong) {
				return n, fmt.Errorf("%s: a line is longer than %d bytes", in, maxLine)
			}
			line = bytes.TrimSpace(line)
			if len(line) > 0 {
				val := append([]byte(nil), line...)
				var key []byte
				if h, ok := hostID(val); ok {
					key = []byte(h)
				}
				cl.Produce(ctx, &kgo.Record{Topic: topic, Key: key, Value: val}, func(_ *kgo.Record, err error) {
					if err != nil {
						failed.CompareAndSwap(nil, &err)
					}
				})
				n++
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				closeFn()
				return n, rerr
			}
		}
		closeFn()
	}
	if err := cl.Flush(ctx); err != nil {
		return n, err
	}
	if e := failed.Load(); e != nil {
		return n, *e
	}
	return n, nil
}

// ensureTopic creates topic unless it exists.
func ensureTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32, replication int16, stderr io.Writer) error {
	adm := kadm.NewClient(cl)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(tctx, partitions, replication, nil, topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		fmt.Fprintf(stderr, "produce: created topic %s (%d partitions, replication factor %d)\n", topic, partitions, replication)
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	}
	return fmt.Errorf("creating topic %q: %w", topic, err)
}
