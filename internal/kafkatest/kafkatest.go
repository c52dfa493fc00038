// Package kafkatest owns the choice of the real Apache Kafka that a test
// binary runs against, so that every Kafka test takes its brokers through one
// code path:
//
//  1. KAFKA_BROKERS (comma separated) when it is set: used as it is, never
//     started or stopped here;
//  2. else, when a Docker-compatible engine answers (Docker, or podman's
//     Docker API socket; DOCKER_HOST as testcontainers-go reads it), one
//     Kafka 4.1 node in a container started with testcontainers-go from the
//     project's own image (deployments/kafka/image; built from its
//     Dockerfile when EQLSTREAM_KAFKA_IMAGE is not there yet);
//  3. else, outside CI, one node started with the project's
//     deployments/kafka/kafka-local.sh (java and mvn) on free ports and a
//     temporary state directory.
//
// Under CI=true, neither KAFKA_BROKERS nor an engine is an error (CI starts
// its clusters itself). The cluster is started once per test binary, on the
// first Get, and Stop (from TestMain) stops what Get started.
//
// Environment: EQLSTREAM_KAFKA_IMAGE (default eqlstream/kafka:4.1.1),
// EQLSTREAM_KAFKA_IMAGE_BASE and EQLSTREAM_KAFKA_IMAGE_MAVEN (build
// arguments BASE and MAVEN_IMAGE when the image is built here),
// EQLSTREAM_KAFKA_TESTCONTAINERS=false (skip step 2).
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sources of a Cluster.
const (
	FromEnv            = "KAFKA_BROKERS"
	FromTestcontainers = "testcontainers"
	FromKafkaLocal     = "kafka-local"
)

// Cluster is the Kafka a test binary runs against.
type Cluster struct {
	Brokers []string
	Source  string // FromEnv, FromTestcontainers or FromKafkaLocal
	// Desc names the cluster in logs (container ID and image, state dir).
	Desc string
	stop func() error
}

// ErrUnavailable wraps the reason no cluster could be had outside CI (no
// engine, and kafka-local.sh cannot run: no java or mvn). Tests skip on it
// with the message; every other error fails them.
var ErrUnavailable = errors.New("no Kafka for the tests")

var (
	mu      sync.Mutex
	cur     *Cluster
	curErr  error
	started bool
)

// Get returns the test binary's cluster, starting it on the first call.
func Get() (*Cluster, error) {
	mu.Lock()
	defer mu.Unlock()
	if !started {
		started = true
		cur, curErr = resolve()
	}
	return cur, curErr
}

// Stop stops the clusters Get and Secure started (nothing for KAFKA_BROKERS
// or KAFKA_SECURE_BROKERS) and logs what it did; safe when neither ran.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	stopSecure()
	if cur == nil || cur.stop == nil {
		return
	}
	if err := cur.stop(); err != nil {
		logf("stopping %s (%s): %v", cur.Source, cur.Desc, err)
	}
	cur.stop = nil
}

// SplitList splits a comma-separated broker list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kafkatest: "+format+"\n", args...)
}

func resolve() (*Cluster, error) {
	if bs := SplitList(os.Getenv("KAFKA_BROKERS")); len(bs) > 0 {
		return &Cluster{Brokers: bs, Source: FromEnv, Desc: strings.Join(bs, ",")}, nil
	}
	ci := os.Getenv("CI") == "true"
	var engineErr error
	if v := os.Getenv("EQLSTREAM_KAFKA_TESTCONTAINERS"); v == "false" || v == "0" {
		engineErr = errors.New("EQLSTREAM_KAFKA_TESTCONTAINERS=" + v)
	} else if p, err := engine(); err != nil {
		engineErr = err
	} else {
		return startContainer(p)
	}
	if ci {
		return nil, fmt.Errorf("KAFKA_BROKERS is required under CI when no container engine answers (%v)", engineErr)
	}
	logf("KAFKA_BROKERS is unset and no container engine answers (%v): starting deployments/kafka/kafka-local.sh", engineErr)
	return startKafkaLocal()
}

// RepoRoot is the root of the eqlstream module, found upwards from the
// working directory (a test runs in its package's directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/eqlstream/eqlstream\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the eqlstream module root (go.mod) is not above the working directory")
		}
		dir = parent
	}
}

// run runs a command with a deadline, its output going to the test
// binary's stderr; the error names the command and the cause.
func run(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Brokers is Get for a test: the cluster's bootstrap list, or a failure
// (never a skip under CI=true); outside CI, ErrUnavailable skips the test
// with its message.
func Brokers(t testing.TB) []string {
	t.Helper()
	c, err := Get()
	switch {
	case err == nil:
		return c.Brokers
	case errors.Is(err, ErrUnavailable) && os.Getenv("CI") != "true":
		t.Skip(err)
	default:
		t.Fatal(err)
	}
	return nil
}
