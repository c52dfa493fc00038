package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// secureCluster is a Kafka cluster started by `kafka-local.sh up --secure
// [--mtls]`: SASL_SSL on brokers, SSL with required client certificates on
// mtls (empty without --mtls), and the files of its state directory (see
// deployments/kafka/kafka-local-secure.sh for the layout).
type secureCluster struct {
	brokers []string
	mtls    []string
	dir     string
}

const secureHow = `start one with
	EQLSTREAM_KAFKA_STATE=/tmp/eqlstream-kafka-secure EQLSTREAM_KAFKA_BROKER_PORT=19192 EQLSTREAM_KAFKA_CONTROLLER_PORT=19193 \
	  deployments/kafka/kafka-local.sh up --secure --mtls 1
and run with the variables it prints:
	eval "$(EQLSTREAM_KAFKA_STATE=/tmp/eqlstream-kafka-secure deployments/kafka/kafka-local.sh secure-env)"`

// secureKafka applies the broker policy to the secured cluster
// (internal/kafkatest.Secure): KAFKA_SECURE_BROKERS and KAFKA_SECURE_DIR when
// set (KAFKA_SECURE_MTLS_BROKERS optional, else read from the state
// directory); a failure under CI=true without them (never a skip); else a
// secured kafka-local.sh node started for the tests (stopped by TestMain),
// and a skip with instructions only when java, mvn or openssl is missing.
func secureKafka(t testing.TB) *secureCluster {
	t.Helper()
	s, err := kafkatest.Secure()
	if err != nil {
		if errors.Is(err, kafkatest.ErrUnavailable) && os.Getenv("CI") != "true" {
			t.Skipf("%v: %s", err, secureHow)
		}
		t.Fatal(err)
	}
	brokers, dir := s.Brokers, s.Dir
	if buildErr != nil {
		t.Fatalf("building the processor: %v", buildErr)
	}
	sc := &secureCluster{brokers: brokers, dir: dir, mtls: s.MTLS}
	if len(sc.mtls) == 0 {
		if b, err := os.ReadFile(filepath.Join(dir, "bootstrap-mtls")); err == nil {
			sc.mtls = splitList(string(b))
		}
	}
	if _, err := os.Stat(sc.ca()); err != nil {
		t.Fatalf("KAFKA_SECURE_DIR=%s is not the state directory of a secure kafka-local.sh cluster: %v", dir, err)
	}
	return sc
}

// requireMTLS returns the mTLS bootstrap list, failing under CI and skipping
// otherwise when the cluster was started without --mtls.
func (sc *secureCluster) requireMTLS(t testing.TB) []string {
	t.Helper()
	if len(sc.mtls) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the secured cluster has no mTLS listener under CI (start it with up --secure --mtls)")
		}
		t.Skipf("the secured cluster in %s has no mTLS listener: %s", sc.dir, secureHow)
	}
	return sc.mtls
}

func splitList(v string) []string {
	var out []string
	for _, b := range strings.Split(v, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

func (sc *secureCluster) ca() string { return filepath.Join(sc.dir, "tls", "ca.crt") }
func (sc *secureCluster) passwordFile(user string) string {
	return filepath.Join(sc.dir, "users", user+".password")
}
func (sc *secureCluster) certFile(user string) string {
	return filepath.Join(sc.dir, "tls", user+".crt")
}
func (sc *secureCluster) keyFile(user string) string {
	return filepath.Join(sc.dir, "tls", user+".key")
}

func (sc *secureCluster) password(t testing.TB, user string) string {
	t.Helper()
	b, err := os.ReadFile(sc.passwordFile(user))
	if err != nil {
		t.Fatalf("password of %s: %v", user, err)
	}
	return strings.TrimSpace(string(b))
}

// secrets are every value that must never appear in a log or in /metrics:
// the users' passwords, the keystore password and the private keys' bodies.
func (sc *secureCluster) secrets(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(sc.dir, "users", "*.password"))
	files = append(files, filepath.Join(sc.dir, "tls", "keystore.password"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && len(bytes.TrimSpace(b)) > 0 {
			out[filepath.Base(f)] = strings.TrimSpace(string(b))
		}
	}
	keys, _ := filepath.Glob(filepath.Join(sc.dir, "tls", "*.key"))
	for _, f := range keys {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// The second line of the PEM body: the first starts with the same
		// ASN.1 header in every PKCS#8 EC key; the second holds part of the
		// private scalar, as a dump of the key file would show it.
		if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) >= 4 && len(lines[2]) >= 32 {
			out[filepath.Base(f)] = lines[2]
		}
	}
	if len(out) < 2 {
		t.Fatalf("found only %d secrets in %s: not a kafka-local.sh secure state directory?", len(out), sc.dir)
	}
	return out
}

// checkNoSecrets fails the test for every secret found in text.
func checkNoSecrets(t testing.TB, where, text string, secrets map[string]string) {
	t.Helper()
	for name, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the secret of %s", where, name)
		}
	}
}

func (sc *secureCluster) tlsConfig(t testing.TB, clientCert string) *tls.Config {
	t.Helper()
	pemCA, err := os.ReadFile(sc.ca())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		t.Fatalf("%s: no certificate", sc.ca())
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if clientCert != "" {
		c, err := tls.LoadX509KeyPair(sc.certFile(clientCert), sc.keyFile(clientCert))
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc
}

// saslOpts are franz-go options for user over SASL_SSL with mech.
func (sc *secureCluster) saslOpts(t testing.TB, user, mech string) []kgo.Opt {
	t.Helper()
	pass := sc.password(t, user)
	var m sasl.Mechanism
	switch mech {
	case "PLAIN":
		m = plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		m = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		m = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	default:
		t.Fatalf("unknown mechanism %s", mech)
	}
	return []kgo.Opt{kgo.DialTLSConfig(sc.tlsConfig(t, "")), kgo.SASL(m)}
}

// saslFlags are the processor's connection flags for user over SASL_SSL.
func (sc *secureCluster) saslFlags(user, mech string) []string {
	return []string{"--brokers", strings.Join(sc.brokers, ","), "--tls", "--tls-ca", sc.ca(),
		"--sasl-mechanism", mech, "--sasl-username", user, "--sasl-password-file", sc.passwordFile(user)}
}

// mtlsFlags are the processor's connection flags for user's certificate on
// the mTLS listener.
func (sc *secureCluster) mtlsFlags(user string) []string {
	return []string{"--brokers", strings.Join(sc.mtls, ","), "--tls", "--tls-ca", sc.ca(),
		"--tls-cert", sc.certFile(user), "--tls-key", sc.keyFile(user)}
}

// newSecureEnv is newEnv on the secured cluster, as admin (SCRAM-SHA-512).
func newSecureEnv(t testing.TB, sc *secureCluster) *env {
	t.Helper()
	opts := sc.saslOpts(t, "admin", "SCRAM-SHA-512")
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(sc.brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, brokers: sc.brokers, opts: opts, cl: cl, adm: kadm.NewClient(cl), names: newNames(t), rf: 1}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bs, err := e.adm.ListBrokers(ctx)
	if err != nil {
		t.Fatalf("KAFKA_SECURE_BROKERS=%s does not answer admin over SASL_SSL: %v", strings.Join(sc.brokers, ","), err)
	}
	e.rf = int16(min(len(bs), 3))
	e.cleanupTopics(e.names)
	return e
}

// as returns a view of e whose new clients (readCommitted, produceRecords)
// connect with opts.
func (e *env) as(opts []kgo.Opt) *env {
	v := *e
	v.opts = opts
	return &v
}

// grant is one ACL binding: allow principal op on a resource.
type grant struct {
	principal string
	kind      string // topic, group, txn
	name      string
	op        kadm.ACLOperation
}

func (g grant) String() string { return fmt.Sprintf("%s %s %s %q", g.principal, g.op, g.kind, g.name) }

func (g grant) builder() *kadm.ACLBuilder {
	b := kadm.NewACLs().Allow(g.principal).AllowHosts("*").Operations(g.op).ResourcePatternType(kadm.ACLPatternLiteral)
	switch g.kind {
	case "topic":
		b.Topics(g.name)
	case "group":
		b.Groups(g.name)
	case "txn":
		b.TransactionalIDs(g.name)
	}
	return b
}

// transactionalID is the processor's transactional ID for a group and an
// instance ID.
func transactionalID(group, instance string) string { return "eqlstream-" + group + "-" + instance }

// processorGrants are the ACLs a processor needs (shared/notes/secure-kafka.md
// and `processor acls`): Read on the input, Write on alerts and DLQ, Write,
// DescribeConfigs and Read on the state topic, Read on the group, Write on the
// transactional ID. No Create (the test creates the topics), nothing on the
// cluster.
func processorGrants(principal string, n names, instance string) []grant {
	return []grant{
		{principal, "topic", n.Input, kadm.OpRead},
		{principal, "topic", n.Alerts, kadm.OpWrite},
		{principal, "topic", n.DLQ, kadm.OpWrite},
		{principal, "topic", n.State, kadm.OpWrite},
		{principal, "topic", n.State, kadm.OpDescribeConfigs},
		{principal, "topic", n.State, kadm.OpRead},
		{principal, "group", n.Group, kadm.OpRead},
		{principal, "txn", transactionalID(n.Group, instance), kadm.OpWrite},
	}
}

// without returns gs minus the grants on name with op.
func without(gs []grant, name string, op kadm.ACLOperation) []grant {
	var out []grant
	for _, g := range gs {
		if g.name != name || g.op != op {
			out = append(out, g)
		}
	}
	if len(out) == len(gs) {
		panic(fmt.Sprintf("no grant %s on %s to remove", op, name))
	}
	return out
}

// allow creates the ACLs and waits until the broker describes them; they are
// deleted when the test ends.
func (e *env) allow(gs ...grant) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, g := range gs {
		res, err := e.adm.CreateACLs(ctx, g.builder())
		if err == nil {
			for _, r := range res {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			e.t.Fatalf("creating ACL %s: %v", g, err)
		}
		e.t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = e.adm.DeleteACLs(ctx, g.builder())
		})
	}
	waitFor(e.t, 20*time.Second, "the ACLs to be described by the broker", func() bool {
		for _, g := range gs {
			res, err := e.adm.DescribeACLs(ctx, g.builder())
			if err != nil || len(res) == 0 || res[0].Err != nil || len(res[0].Described) == 0 {
				return false
			}
		}
		return true
	})
}

// produceLines publishes the lines of path to topic with e's connection,
// keyed by host.id (bad lines get the key "bad").
func (e *env) produceLines(path, topic string, extra ...[]byte) int {
	e.t.Helper()
	f, err := os.Open(path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	var out []*sent
	for _, v := range extra {
		out = append(out, &sent{key: []byte("bad"), value: v})
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		h, err := parseHead(line)
		if err != nil {
			e.t.Fatalf("%s: %v", path, err)
		}
		out = append(out, &sent{key: []byte(h.HostID), value: line})
	}
	e.produceRecords(topic, out)
	return len(out)
}

// readyWatch polls a processor's /readyz every 50ms until it exits and
// counts the answers; ok200 must stay 0 for a processor that cannot work.
type readyWatch struct {
	mu           sync.Mutex
	polls, ok200 int
	firstOK      time.Duration
	lastOK       time.Time // when the last 200 was sent for
	done         chan struct{}
}

func watchReady(p *proc) *readyWatch {
	w := &readyWatch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		client := &http.Client{Timeout: time.Second}
		addr := ""
		for !p.exited() {
			if addr == "" {
				if m := metricsAddrRe.FindStringSubmatch(p.log()); m != nil {
					addr = m[1]
				}
			}
			if addr != "" {
				asked := time.Now()
				if resp, err := client.Get("http://" + addr + "/readyz"); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					w.mu.Lock()
					w.polls++
					if resp.StatusCode == http.StatusOK {
						if w.ok200 == 0 {
							w.firstOK = time.Since(p.started)
						}
						w.ok200++
						w.lastOK = asked
					}
					w.mu.Unlock()
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return w
}

// lastOKAt is when the last /readyz request that got 200 was sent.
func (w *readyWatch) lastOKAt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastOK
}

var logTimeRe = regexp.MustCompile(`time=(\S+)`)

// firstLogTime returns the time of the first log line for which match holds.
func firstLogTime(log string, match func(string) bool) (time.Time, bool) {
	for _, line := range strings.Split(log, "\n") {
		if match(line) {
			if m := logTimeRe.FindStringSubmatch(line); m != nil {
				if ts, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
					return ts, true
				}
			}
		}
	}
	return time.Time{}, false
}

func (w *readyWatch) result() (polls, ok200 int, firstOK time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.polls, w.ok200, w.firstOK
}

// waitExit waits up to bound for p to exit and returns its code and how long
// after its start it exited; a process still running is killed and the test
// fails.
func waitExit(t testing.TB, p *proc, bound time.Duration) (int, time.Duration) {
	t.Helper()
	select {
	case <-p.done:
		return p.exitCode, time.Since(p.started)
	case <-time.After(time.Until(p.started.Add(bound))):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s still running %s after its start (killed it); last lines:\n%s", p.name, bound, tail(p.logPath, 30))
		return -1, bound
	}
}

// lastLines returns the last n non-empty lines of text, joined by " | ",
// for the failure table.
func lastLines(text string, n int) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// runBounded runs a processor subcommand with a bound and returns its exit
// code (-1 when killed at the bound), how long it took and its combined
// output.
func runBounded(t testing.TB, bound time.Duration, args ...string) (int, time.Duration, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, processorBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := 0
	if err != nil {
		code = -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
	}
	return code, took, out.String()
}

// writeUntrustedCA writes a fresh self-signed CA certificate (PEM) that the
// brokers' certificates are not signed by.
func writeUntrustedCA(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "untrusted test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "untrusted-ca.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
