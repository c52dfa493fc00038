package kafkatest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Secured is a secured kafka-local.sh node (SASL_SSL, mTLS, ACLs: `up
// --secure --mtls`): its bootstrap lists and state directory.
type Secured struct {
	Brokers, MTLS []string
	Dir           string
}

var (
	secured     *Secured
	securedErr  error
	securedDone bool
	securedStop func() error
)

// Secure returns the secured node of the test binary: from
// KAFKA_SECURE_BROKERS and KAFKA_SECURE_DIR when set (KAFKA_SECURE_MTLS_BROKERS
// optional); else, outside CI, a node this package starts with kafka-local.sh
// on a temporary state directory and free ports (EQLSTREAM_KAFKA_SECURE_*_PORT
// choose them), whose `secure-env` variables it exports into this process.
// Under CI=true, missing variables are an error; outside CI, ErrUnavailable
// when java or mvn is missing. StopSecure (or Stop) stops a node it started.
func Secure() (*Secured, error) {
	mu.Lock()
	defer mu.Unlock()
	if !securedDone {
		securedDone = true
		secured, securedErr = resolveSecure()
	}
	return secured, securedErr
}

func resolveSecure() (*Secured, error) {
	brokers, dir := SplitList(os.Getenv("KAFKA_SECURE_BROKERS")), strings.TrimSpace(os.Getenv("KAFKA_SECURE_DIR"))
	if len(brokers) > 0 && dir != "" {
		return &Secured{Brokers: brokers, Dir: dir, MTLS: SplitList(os.Getenv("KAFKA_SECURE_MTLS_BROKERS"))}, nil
	}
	if os.Getenv("CI") == "true" {
		return nil, fmt.Errorf("KAFKA_SECURE_BROKERS and KAFKA_SECURE_DIR are required under CI (.ci/run starts the secured cluster)")
	}
	for _, tool := range []string{"java", "mvn", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%w: KAFKA_SECURE_BROKERS is unset and kafka-local.sh up --secure needs %s (not on PATH)", ErrUnavailable, tool)
		}
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "deployments", "kafka", "kafka-local.sh")
	state, err := os.MkdirTemp("", "eqlstream-kafkatest-secure-")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	for i, name := range []string{"BROKER", "CONTROLLER", "MTLS"} {
		if p, err := strconv.Atoi(os.Getenv("EQLSTREAM_KAFKA_SECURE_" + name + "_PORT")); err == nil {
			ports[i] = p
		}
	}
	env := []string{
		"EQLSTREAM_KAFKA_STATE=" + state,
		"EQLSTREAM_KAFKA_BROKER_PORT=" + strconv.Itoa(ports[0]),
		"EQLSTREAM_KAFKA_CONTROLLER_PORT=" + strconv.Itoa(ports[1]),
		"EQLSTREAM_KAFKA_MTLS_PORT=" + strconv.Itoa(ports[2]),
	}
	down := func() error {
		_, err := run(2*time.Minute, env, script, "down")
		os.RemoveAll(state)
		if err == nil {
			logf("secured kafka-local.sh node in %s stopped and removed", state)
		}
		return err
	}
	t0 := time.Now()
	if _, err := run(4*time.Minute, env, script, "up", "--secure", "--mtls", "1"); err != nil {
		_ = down()
		return nil, fmt.Errorf("starting a secured kafka-local.sh node in %s: %w", state, err)
	}
	if _, err := run(4*time.Minute, env, script, "fetch-tools"); err != nil { // for `kafka-local.sh acl`
		_ = down()
		return nil, err
	}
	out, err := run(time.Minute, env, script, "secure-env")
	if err != nil {
		_ = down()
		return nil, err
	}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasPrefix(line, "export ") {
			os.Setenv(k, v)
		}
	}
	securedStop = down
	s := &Secured{Brokers: SplitList(os.Getenv("KAFKA_SECURE_BROKERS")), MTLS: SplitList(os.Getenv("KAFKA_SECURE_MTLS_BROKERS")), Dir: state}
	logf("secured kafka-local.sh node at %s (mTLS %s, state %s) ready in %.1fs", strings.Join(s.Brokers, ","), strings.Join(s.MTLS, ","), state, time.Since(t0).Seconds())
	return s, nil
}

// stopSecure stops the secured node Secure started; mu is held.
func stopSecure() {
	if securedStop == nil {
		return
	}
	if err := securedStop(); err != nil {
		logf("stopping the secured kafka-local.sh node: %v", err)
	}
	securedStop = nil
}
