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

// localNode is a kafka-local.sh node on a temporary state directory.
type localNode struct {
	script, state string
	env           []string // EQLSTREAM_KAFKA_* of the node
}

// newLocalNode prepares a node: tools must be on PATH (else ErrUnavailable
// naming what), ports are free ones unless the variables portEnv name them
// (on a machine shared by several users), and setting[i] is the
// kafka-local.sh variable of port i.
func newLocalNode(what string, tools, portEnv, setting []string) (*localNode, error) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%w: %s, and kafka-local.sh needs %s (not on PATH); start a broker and set KAFKA_BROKERS", ErrUnavailable, what, tool)
		}
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(len(setting))
	if err != nil {
		return nil, err
	}
	for i, name := range portEnv {
		if p, err := strconv.Atoi(os.Getenv(name)); err == nil {
			ports[i] = p
		}
	}
	state, err := os.MkdirTemp("", "eqlstream-kafkatest-")
	if err != nil {
		return nil, err
	}
	n := &localNode{script: filepath.Join(root, "deployments", "kafka", "kafka-local.sh"), state: state,
		env: []string{"EQLSTREAM_KAFKA_STATE=" + state}}
	for i, name := range setting {
		n.env = append(n.env, name+"="+strconv.Itoa(ports[i]))
	}
	return n, nil
}

func (n *localNode) run(timeout time.Duration, args ...string) (string, error) {
	return run(timeout, n.env, n.script, args...)
}

// up starts the node with `up args...`, bringing it down again on failure.
func (n *localNode) up(args ...string) error {
	if _, err := n.run(4*time.Minute, append([]string{"up"}, args...)...); err != nil {
		_ = n.down()
		return fmt.Errorf("starting a kafka-local.sh node in %s: %w", n.state, err)
	}
	return nil
}

// down stops the node and removes its state directory.
func (n *localNode) down() error {
	_, err := n.run(2*time.Minute, "down")
	os.RemoveAll(n.state)
	if err == nil {
		logf("kafka-local.sh node in %s stopped and removed", n.state)
	}
	return err
}

// startKafkaLocal starts one plaintext node. It exports KAFKA_LOCAL and the
// node's EQLSTREAM_KAFKA_* variables into this process's environment (unless
// KAFKA_LOCAL is already set), so that the tests that stop, pause and restart
// the broker through the script reach this node.
func startKafkaLocal() (*Cluster, error) {
	n, err := newLocalNode("KAFKA_BROKERS is unset and no container engine answers", []string{"java", "mvn"},
		[]string{"EQLSTREAM_KAFKA_BROKER_PORT", "EQLSTREAM_KAFKA_CONTROLLER_PORT"},
		[]string{"EQLSTREAM_KAFKA_BROKER_PORT", "EQLSTREAM_KAFKA_CONTROLLER_PORT"})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := n.up("1"); err != nil {
		return nil, err
	}
	out, err := n.run(time.Minute, "brokers")
	if err != nil {
		_ = n.down()
		return nil, err
	}
	if os.Getenv("KAFKA_LOCAL") == "" {
		os.Setenv("KAFKA_LOCAL", n.script)
		for _, kv := range n.env {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
	}
	logf("kafka-local.sh node at %s (state %s) ready in %.1fs", out, n.state, time.Since(t0).Seconds())
	return &Cluster{Brokers: SplitList(out), Source: FromKafkaLocal, Desc: n.state, stop: n.down}, nil
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
