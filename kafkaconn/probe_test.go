package kafkaconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a bytes.Buffer safe for the client's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func debugLogger() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func newCluster(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func build(t *testing.T, o Options) *Config {
	t.Helper()
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 3 * time.Second
	}
	c, err := o.Build()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// closedPort returns an address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbeFailuresNameTheCause(t *testing.T) {
	p := newPKI(t)
	srvTLS := &tls.Config{Certificates: []tls.Certificate{p.serverCert}, MinVersion: tls.VersionTLS12}
	mTLS := &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientCAs: p.caPool, ClientAuth: tls.RequireAndVerifyClientCert}
	tlsAddr := newCluster(t, kfake.TLS(srvTLS))
	mtlsAddr := newCluster(t, kfake.TLS(mTLS))
	saslAddr := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "admin", "right-password"))
	_, port, _ := net.SplitHostPort(tlsAddr)

	cases := []struct {
		name    string
		o       Options
		want    string
		maxWait time.Duration
	}{
		{"nothing listening", Options{Brokers: closedPort(t), ConnectTimeout: time.Second},
			"no usable answer within 1s (--connect-timeout); last: nothing is listening there", 2 * time.Second},
		{"plaintext to a TLS port", Options{Brokers: tlsAddr},
			"the broker closed the connection: the listener probably expects TLS (add --tls)", time.Second},
		{"plaintext to a TLS port that sends an alert", Options{Brokers: tlsAlerter(t)},
			"the broker answered with TLS: the listener expects TLS (add --tls and --tls-ca)", time.Second},
		{"TLS to a plaintext port", Options{Brokers: kafkaLikeCloser(t), TLS: true},
			"the broker closed the connection during the TLS handshake: the listener is probably plaintext (remove --tls or use the TLS port)", time.Second},
		{"TLS to a port that answers in plaintext", Options{Brokers: plaintextAnswerer(t), TLS: true},
			"the broker did not answer with TLS: the listener is probably plaintext", time.Second},
		{"untrusted CA", Options{Brokers: tlsAddr, TLS: true},
			"the broker's certificate is signed by an unknown authority: give its CA with --tls-ca", time.Second},
		{"other CA", Options{Brokers: tlsAddr, TLSCA: p.otherCAFile},
			"signed by an unknown authority", time.Second},
		{"wrong host name", Options{Brokers: "127.0.0.1:" + port, TLSCA: p.caFile, TLSServerName: "kafka.example.org"},
			`the broker's certificate is not valid for the host name "kafka.example.org"`, time.Second},
		{"mTLS without client certificate", Options{Brokers: mtlsAddr, TLSCA: p.caFile},
			"it probably requires a client certificate (--tls-cert, --tls-key)", time.Second},
		{"wrong password", Options{Brokers: saslAddr, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "admin", SASLPassword: "wrong-password"},
			"the listener probably expects TLS (add --tls), or it rejected the SASL login", time.Second},
		{"unknown user", Options{Brokers: saslAddr, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "mallory", SASLPassword: "x"},
			"or it rejected the SASL login", time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := build(t, tc.o)
			log, buf := debugLogger()
			start := time.Now()
			err := c.Probe(context.Background(), log)
			took := time.Since(start)
			if err == nil {
				t.Fatal("probe succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "cannot connect to Kafka (") {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if took > tc.maxWait {
				t.Errorf("probe took %v, want under %v", took, tc.maxWait)
			}
			for _, secret := range []string{"wrong-password", "right-password"} {
				if strings.Contains(err.Error()+buf.String(), secret) {
					t.Errorf("a password appears in the error or the debug log")
				}
			}
		})
	}
}

func TestProbeSucceeds(t *testing.T) {
	p := newPKI(t)
	srvTLS := &tls.Config{Certificates: []tls.Certificate{p.serverCert}}
	mTLS := &tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientCAs: p.caPool, ClientAuth: tls.RequireAndVerifyClientCert}
	tlsAddr := newCluster(t, kfake.TLS(srvTLS))
	_, port, _ := net.SplitHostPort(tlsAddr)
	for name, o := range map[string]Options{
		"plaintext":            {Brokers: newCluster(t)},
		"tls by IP":            {Brokers: tlsAddr, TLSCA: p.caFile},
		"tls by host name":     {Brokers: "localhost:" + port, TLSCA: p.caFile},
		"tls with server name": {Brokers: tlsAddr, TLSCA: p.caFile, TLSServerName: "localhost"},
		"insecure":             {Brokers: tlsAddr, TLSInsecureSkipVerify: true},
		"mtls":                 {Brokers: newCluster(t, kfake.TLS(mTLS)), TLSCA: p.caFile, TLSCert: p.clientCert, TLSKey: p.clientKey},
		"scram-256": {Brokers: newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "pw")),
			SASLMechanism: "SCRAM-SHA-256", SASLUsername: "admin", SASLPassword: "pw"},
		"plain over tls": {Brokers: newCluster(t, kfake.TLS(srvTLS), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "pw")),
			TLSCA: p.caFile, SASLMechanism: "PLAIN", SASLUsername: "admin", SASLPassword: "pw"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := build(t, o).Probe(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestNoSecretInDebugLogs runs clients at debug level that log in with
// passwords (right and wrong, every mechanism) and produce and consume, and
// asserts no password ever reaches the log.
func TestNoSecretInDebugLogs(t *testing.T) {
	const (
		good512 = "Pw-512-never-logged"
		good256 = "Pw-256-never-logged"
		goodPl  = "Pw-plain-never-logged"
		wrong   = "Wrong-pw-never-logged"
	)
	addr := newCluster(t, kfake.EnableSASL(), kfake.SeedTopics(1, "t"),
		kfake.Superuser("SCRAM-SHA-512", "admin", good512),
		kfake.Superuser("SCRAM-SHA-256", "admin256", good256),
		kfake.Superuser("PLAIN", "plainadmin", goodPl))
	log, buf := debugLogger()
	for _, o := range []Options{
		{SASLMechanism: "SCRAM-SHA-512", SASLUsername: "admin", SASLPassword: good512},
		{SASLMechanism: "SCRAM-SHA-256", SASLUsername: "admin256", SASLPassword: good256},
		{SASLMechanism: "PLAIN", SASLUsername: "plainadmin", SASLPassword: goodPl},
	} {
		o.Brokers = addr
		c := build(t, o)
		c.LogWarnings(log)
		if err := c.Probe(context.Background(), log); err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append(c.Opts(log), kgo.ConsumeTopics("t"))...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if fs := cl.PollFetches(ctx); fs.NumRecords() == 0 {
			t.Fatalf("no records consumed: %v", fs.Errors())
		}
		cancel()
		cl.Close()
		o.SASLPassword = wrong
		if err := build(t, o).Probe(context.Background(), log); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	out := buf.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "beginning sasl authentication") {
		t.Fatalf("the client did not log at debug; the test proves nothing:\n%.2000s", out)
	}
	for _, s := range []string{good512, good256, goodPl, wrong} {
		if strings.Contains(out, s) {
			t.Errorf("password %q appears in the debug log", s)
		}
	}
}

// kafkaLikeCloser accepts connections and closes them after the first four
// bytes, as a plaintext Kafka listener does when a TLS ClientHello arrives
// (its first bytes read as an impossible request size).
func kafkaLikeCloser(t *testing.T) string {
	return fakeListener(t, func(c net.Conn) { _, _ = c.Read(make([]byte, 4)) })
}

// plaintextAnswerer answers anything with bytes that are not TLS.
func plaintextAnswerer(t *testing.T) string {
	return fakeListener(t, func(c net.Conn) {
		_, _ = c.Read(make([]byte, 4))
		_, _ = c.Write([]byte("\x00\x00\x00\x10not a TLS record at all"))
		time.Sleep(100 * time.Millisecond)
	})
}

func fakeListener(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
	return ln.Addr().String()
}

// tlsAlerter answers a plaintext request with a TLS alert record, as a real
// Kafka TLS listener does.
func tlsAlerter(t *testing.T) string {
	return fakeListener(t, func(c net.Conn) {
		_, _ = c.Read(make([]byte, 4))
		_, _ = c.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50})
		time.Sleep(100 * time.Millisecond)
	})
}
