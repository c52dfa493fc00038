package kafkatest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// startKafkaLocal starts one node with deployments/kafka/kafka-local.sh on
// a temporary state directory. It exports KAFKA_LOCAL and
// the EQLSTREAM_KAFKA_* variables of that node into this process's
// environment (unless KAFKA_LOCAL is already set), so that the tests that
// stop, pause and restart the broker through the script reach this node.
func startKafkaLocal() (*Cluster, error) {
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%w: KAFKA_BROKERS is unset, no container engine answers, and kafka-local.sh needs %s (not on PATH); start a broker and set KAFKA_BROKERS", ErrUnavailable, tool)
		}
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "deployments", "kafka", "kafka-local.sh")
	state, err := os.MkdirTemp("", "eqlstream-kafkatest-")
	if err != nil {
		return nil, err
	}
	// EQLSTREAM_KAFKA_BROKER_PORT and _CONTROLLER_PORT choose the ports (on a
	// machine shared by several users); else two free ones.
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	bp, errB := strconv.Atoi(os.Getenv("EQLSTREAM_KAFKA_BROKER_PORT"))
	cp, errC := strconv.Atoi(os.Getenv("EQLSTREAM_KAFKA_CONTROLLER_PORT"))
	if errB == nil && errC == nil {
		ports = []int{bp, cp}
	}
	env := []string{
		"EQLSTREAM_KAFKA_STATE=" + state,
		"EQLSTREAM_KAFKA_BROKER_PORT=" + strconv.Itoa(ports[0]),
		"EQLSTREAM_KAFKA_CONTROLLER_PORT=" + strconv.Itoa(ports[1]),
	}
	down := func() error {
		_, err := run(2*time.Minute, env, script, "down")
		os.RemoveAll(state)
		if err == nil {
			logf("kafka-local.sh cluster in %s stopped and removed", state)
		}
		return err
	}
	t0 := time.Now()
	if _, err := run(4*time.Minute, env, script, "up", "1"); err != nil {
		_ = down()
		return nil, fmt.Errorf("starting a kafka-local.sh node in %s: %w", state, err)
	}
	out, err := run(time.Minute, env, script, "brokers")
	if err != nil {
		_ = down()
		return nil, err
	}
	if os.Getenv("KAFKA_LOCAL") == "" {
		os.Setenv("KAFKA_LOCAL", script)
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	}
	logf("kafka-local.sh node at %s (state %s) ready in %.1fs", out, state, time.Since(t0).Seconds())
	return &Cluster{Brokers: SplitList(out), Source: FromKafkaLocal, Desc: state, stop: down}, nil
}

// freePorts returns n distinct TCP ports free on 127.0.0.1 right now.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
