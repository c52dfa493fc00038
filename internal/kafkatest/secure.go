package kafkatest

import (
	"fmt"
	"os"
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
	n, err := newLocalNode("KAFKA_SECURE_BROKERS is unset", []string{"java", "mvn", "openssl"},
		[]string{"EQLSTREAM_KAFKA_SECURE_BROKER_PORT", "EQLSTREAM_KAFKA_SECURE_CONTROLLER_PORT", "EQLSTREAM_KAFKA_SECURE_MTLS_PORT"},
		[]string{"EQLSTREAM_KAFKA_BROKER_PORT", "EQLSTREAM_KAFKA_CONTROLLER_PORT", "EQLSTREAM_KAFKA_MTLS_PORT"})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := n.up("--secure", "--mtls", "1"); err != nil {
		return nil, err
	}
	out, err := n.run(4*time.Minute, "fetch-tools") // for `kafka-local.sh acl`
	if err == nil {
		out, err = n.run(time.Minute, "secure-env")
	}
	if err != nil {
		_ = n.down()
		return nil, err
	}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasPrefix(line, "export ") {
			os.Setenv(k, v)
		}
	}
	securedStop = n.down
	s := &Secured{Brokers: SplitList(os.Getenv("KAFKA_SECURE_BROKERS")), MTLS: SplitList(os.Getenv("KAFKA_SECURE_MTLS_BROKERS")), Dir: n.state}
	logf("secured kafka-local.sh node at %s (mTLS %s, state %s) ready in %.1fs", strings.Join(s.Brokers, ","), strings.Join(s.MTLS, ","), n.state, time.Since(t0).Seconds())
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
