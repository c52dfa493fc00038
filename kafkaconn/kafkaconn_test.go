package kafkaconn

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pki is a throw-away CA with a server certificate for 127.0.0.1/localhost
// and a client certificate, written as PEM files.
type pki struct {
	dir                                string
	caFile, certFile, keyFile          string
	serverCert                         tls.Certificate
	caPool                             *x509.CertPool
	otherCAFile, clientCert, clientKey string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{dir: dir}
	caKey, caDER, caCert := selfSigned(t, "test CA")
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(caCert)
	_, otherDER, _ := selfSigned(t, "other CA")
	p.otherCAFile = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", otherDER)

	srvKey, srvDER := issue(t, caKey, caCert, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.serverCert = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}

	cliKey, cliDER := issue(t, caKey, caCert, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "eqlstream", Organization: []string{"soc"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.clientCert = writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER)
	kb, err := x509.MarshalPKCS8PrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.clientKey = writePEM(t, dir, "client-key.pem", "PRIVATE KEY", kb)
	return p
}

var serial int64

func selfSigned(t *testing.T, cn string) (*ecdsa.PrivateKey, []byte, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, der, cert
}

func issue(t *testing.T, caKey *ecdsa.PrivateKey, ca *x509.Certificate, tmpl *x509.Certificate) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBuildRejectsHalfConfigurations(t *testing.T) {
	p := newPKI(t)
	pwFile := writeFile(t, "pw", "s3cret\n", 0o600)
	emptyFile := writeFile(t, "empty", "", 0o600)
	notPEM := writeFile(t, "ca.txt", "this is not a certificate\n", 0o600)
	base := Options{Brokers: "127.0.0.1:9092", ConnectTimeout: time.Second}
	cases := []struct {
		name string
		mod  func(*Options)
		want string // every line must appear in the error
	}{
		{"no brokers", func(o *Options) { o.Brokers = " , " }, "no brokers: set --brokers"},
		{"key without cert", func(o *Options) { o.TLSKey = p.clientKey }, "--tls-key needs --tls-cert: the client certificate for mTLS is missing"},
		{"cert without key", func(o *Options) { o.TLSCert = p.clientCert }, "--tls-cert needs --tls-key: the private key of the client certificate is missing"},
		{"username without mechanism", func(o *Options) { o.SASLUsername = "alice" }, "a SASL username or password is set but no --sasl-mechanism: choose one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
		{"password without mechanism", func(o *Options) { o.SASLPassword = "x" }, "a SASL username or password is set but no --sasl-mechanism"},
		{"password file without mechanism", func(o *Options) { o.SASLPasswordFile = pwFile }, "a SASL username or password is set but no --sasl-mechanism"},
		{"mechanism without username", func(o *Options) { o.SASLMechanism = "SCRAM-SHA-512"; o.SASLPasswordFile = pwFile }, "--sasl-mechanism SCRAM-SHA-512 needs --sasl-username"},
		{"mechanism without password", func(o *Options) { o.SASLMechanism = "PLAIN"; o.SASLUsername = "alice" }, "--sasl-mechanism PLAIN needs a password: --sasl-password-file FILE (or EQLSTREAM_SASL_PASSWORD)"},
		{"both passwords", func(o *Options) {
			o.SASLMechanism, o.SASLUsername, o.SASLPassword, o.SASLPasswordFile = "PLAIN", "alice", "x", pwFile
		}, "both --sasl-password and --sasl-password-file are set (perhaps EQLSTREAM_SASL_PASSWORD): give only one"},
		{"unreadable password file", func(o *Options) {
			o.SASLMechanism, o.SASLUsername, o.SASLPasswordFile = "PLAIN", "alice", filepath.Join(t.TempDir(), "missing")
		}, "--sasl-password-file: open "},
		{"empty password file", func(o *Options) {
			o.SASLMechanism, o.SASLUsername, o.SASLPasswordFile = "PLAIN", "alice", emptyFile
		}, "is empty"},
		{"unknown mechanism", func(o *Options) { o.SASLMechanism, o.SASLUsername, o.SASLPassword = "GSSAPI", "alice", "x" },
			`unknown --sasl-mechanism "GSSAPI": allowed values are PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{"CA without certificates", func(o *Options) { o.TLSCA = notPEM }, "--tls-ca " + notPEM + ": no PEM certificates in the file"},
		{"missing CA file", func(o *Options) { o.TLSCA = "/nonexistent/ca.pem" }, "--tls-ca: open /nonexistent/ca.pem"},
		{"cert and key that do not match", func(o *Options) { o.TLSCert, o.TLSKey = p.clientCert, p.caFile }, "--tls-cert/--tls-key: "},
		{"zero connect timeout", func(o *Options) { o.ConnectTimeout = 0 }, "--connect-timeout must be positive"},
		{"two problems at once", func(o *Options) { o.TLSKey = p.clientKey; o.SASLUsername = "alice" },
			"--tls-key needs --tls-cert\na SASL username or password is set but no --sasl-mechanism"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.mod(&o)
			c, err := o.Build()
			if err == nil {
				t.Fatalf("Build accepted %+v: %+v", o, c)
			}
			for _, line := range strings.Split(tc.want, "\n") {
				if !strings.Contains(err.Error(), line) {
					t.Errorf("error %q does not say %q", err, line)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestBuildAcceptsAndWarns(t *testing.T) {
	p := newPKI(t)
	pwFile := writeFile(t, "pw", "s3cret\r\n", 0o600)
	cases := []struct {
		name      string
		o         Options
		tls, mtls bool
		mech      string
		principal string
		warn      []string
	}{
		{name: "plaintext", o: Options{Brokers: "a:1,b:2"}},
		{name: "tls with CA", o: Options{Brokers: "a:1", TLS: true, TLSCA: p.caFile}, tls: true},
		{name: "CA implies tls", o: Options{Brokers: "a:1", TLSCA: p.caFile}, tls: true},
		{name: "mtls", o: Options{Brokers: "a:1", TLSCert: p.clientCert, TLSKey: p.clientKey}, tls: true, mtls: true, principal: "User:CN=eqlstream,O=soc"},
		{name: "insecure warns", o: Options{Brokers: "a:1", TLSInsecureSkipVerify: true}, tls: true, warn: []string{"--tls-insecure-skip-verify: the brokers' certificates are NOT verified"}},
		{name: "scram from file, lower case", o: Options{Brokers: "a:1", TLS: true, SASLMechanism: "scram-sha-512", SASLUsername: "alice", SASLPasswordFile: pwFile},
			tls: true, mech: "SCRAM-SHA-512", principal: "User:alice"},
		{name: "plain without tls warns", o: Options{Brokers: "a:1", SASLMechanism: "PLAIN", SASLUsername: "bob", SASLPassword: "x"},
			mech: "PLAIN", principal: "User:bob", warn: []string{"SASL PLAIN without TLS sends the password in clear text; add --tls"}},
		{name: "password argument warns", o: Options{Brokers: "a:1", TLS: true, SASLMechanism: "SCRAM-SHA-256", SASLUsername: "bob", SASLPassword: "x", PasswordOnCommandLine: true},
			tls: true, mech: "SCRAM-SHA-256", principal: "User:bob", warn: []string{"--sasl-password on the command line can be read by other users of this machine"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.ConnectTimeout = time.Second
			c, err := tc.o.Build()
			if err != nil {
				t.Fatal(err)
			}
			if (c.TLS != nil) != tc.tls || c.TLS != nil && (len(c.TLS.Certificates) > 0) != tc.mtls {
				t.Errorf("TLS = %v, want tls %v mtls %v", c.TLS != nil, tc.tls, tc.mtls)
			}
			if c.Mechanism != tc.mech || (c.SASL != nil) != (tc.mech != "") {
				t.Errorf("mechanism %q (%v), want %q", c.Mechanism, c.SASL, tc.mech)
			}
			if c.Principal() != tc.principal {
				t.Errorf("principal %q, want %q", c.Principal(), tc.principal)
			}
			if len(c.Warnings) != len(tc.warn) {
				t.Fatalf("warnings %q, want %q", c.Warnings, tc.warn)
			}
			for i, w := range tc.warn {
				if !strings.Contains(c.Warnings[i], w) {
					t.Errorf("warning %q, want %q", c.Warnings[i], w)
				}
			}
		})
	}
}

func TestRegisterDefaultsAndNames(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var o Options
	o.Register(fs)
	for _, name := range []string{"brokers", "tls", "tls-ca", "tls-cert", "tls-key", "tls-server-name", "tls-insecure-skip-verify",
		"sasl-mechanism", "sasl-username", "sasl-password-file", "sasl-password", "connect-timeout"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s not registered", name)
		}
	}
	if o.ConnectTimeout != 10*time.Second {
		t.Errorf("default connect timeout %v, want 10s", o.ConnectTimeout)
	}
}

func TestOptionsNeverPrintThePassword(t *testing.T) {
	o := Options{Brokers: "a:1", SASLMechanism: "PLAIN", SASLUsername: "u", SASLPassword: "hunter2-secret"}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("options", "opts", o)
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%+v", o), fmt.Sprintf("%v", &o), buf.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password printed: %s", s)
		}
		if !strings.Contains(s, "REDACTED") {
			t.Errorf("redaction marker missing: %s", s)
		}
	}
}

func TestLoggerLevels(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		want  string
	}{{slog.LevelDebug, "debug"}, {slog.LevelInfo, "warn"}, {slog.LevelWarn, "warn"}, {slog.LevelError, "error"}} {
		var buf bytes.Buffer
		l := NewLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level})))
		if got := strings.ToLower(l.Level().String()); got != tc.want {
			t.Errorf("slog %v: client level %s, want %s", tc.level, got, tc.want)
		}
	}
	var buf bytes.Buffer
	l := NewLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Log(kgo.LogLevelWarn, "client-warn")
	l.Log(kgo.LogLevelInfo, "client-info") // debug only
	l.Log(kgo.LogLevelDebug, "client-debug")
	l.Log(kgo.LogLevelError, "client-error")
	out := buf.String()
	for _, want := range []string{"level=WARN msg=client-warn component=kafka", "level=ERROR msg=client-error component=kafka"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %s", want, out)
		}
	}
	if strings.Contains(out, "client-info") || strings.Contains(out, "client-debug") {
		t.Errorf("client info/debug logged at info level: %s", out)
	}
}
