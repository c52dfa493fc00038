// Package kafkaconn owns how every eqlstream command connects to Kafka: the
// one set of connection flags (brokers, TLS, mTLS, SASL, connect timeout),
// their validation, the franz-go client options they give, the client's
// logger, and the bounded startup probe that turns a failed connection,
// handshake or login into a message naming the cause.
//
// Commands register the flags with [Options.Register], turn them into a
// [Config] with [Options.Build] (every error it returns is a usage error),
// pass [Config.Opts] to every client they make, and call [Config.Probe]
// before doing anything else.
package kafkaconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// DefaultConnectTimeout bounds connecting, the TLS handshake, the SASL login
// and the startup probe unless --connect-timeout says otherwise.
const DefaultConnectTimeout = 10 * time.Second

// Mechanisms are the SASL mechanisms --sasl-mechanism accepts.
var Mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Options are the connection flags as given (command line or
// EQLSTREAM_<NAME> environment variables).
type Options struct {
	Brokers               string
	TLS                   bool
	TLSCA                 string
	TLSCert               string
	TLSKey                string
	TLSServerName         string
	TLSInsecureSkipVerify bool
	SASLMechanism         string
	SASLUsername          string
	SASLPasswordFile      string
	SASLPassword          string
	ConnectTimeout        time.Duration
	// PasswordOnCommandLine is set by the command when --sasl-password was
	// an argument rather than EQLSTREAM_SASL_PASSWORD: Build warns then.
	PasswordOnCommandLine bool
}

// Register adds the connection flags to fs. The command's environment
// handling maps each to EQLSTREAM_<NAME> (e.g. EQLSTREAM_SASL_PASSWORD_FILE).
func (o *Options) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.Brokers, "brokers", "", "Kafka bootstrap brokers, comma separated host:port")
	fs.BoolVar(&o.TLS, "tls", false, "connect with TLS (implied by any other --tls-* flag)")
	fs.StringVar(&o.TLSCA, "tls-ca", "", "PEM file of the CA certificates that sign the brokers' certificates (default: the system's)")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "PEM client certificate for mTLS (needs --tls-key)")
	fs.StringVar(&o.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&o.TLSServerName, "tls-server-name", "", "host name to verify the brokers' certificates against (default: the host dialed)")
	fs.BoolVar(&o.TLSInsecureSkipVerify, "tls-insecure-skip-verify", false, "do NOT verify the brokers' certificates (testing only; warns at every start)")
	fs.StringVar(&o.SASLMechanism, "sasl-mechanism", "", "SASL mechanism: "+strings.Join(Mechanisms, ", "))
	fs.StringVar(&o.SASLUsername, "sasl-username", "", "SASL username")
	fs.StringVar(&o.SASLPasswordFile, "sasl-password-file", "", "file holding the SASL password (one trailing newline is ignored)")
	fs.StringVar(&o.SASLPassword, "sasl-password", "", "SASL password; prefer --sasl-password-file or EQLSTREAM_SASL_PASSWORD (arguments are visible in ps)")
	fs.DurationVar(&o.ConnectTimeout, "connect-timeout", DefaultConnectTimeout, "bound on connecting, TLS handshake, SASL login and the startup checks")
}

// LogValue keeps the password out of logs should Options ever be logged.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// String keeps the password out of %v output.
func (o Options) String() string {
	o.SASLPassword = redact(o.SASLPassword)
	type plainOptions Options
	return fmt.Sprintf("%+v", plainOptions(o))
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// Config is a validated connection configuration.
type Config struct {
	Brokers        []string
	TLS            *tls.Config    // nil: plaintext
	SASL           sasl.Mechanism // nil: no SASL
	Mechanism      string         // canonical mechanism name, "" without SASL
	Username       string
	ConnectTimeout time.Duration
	// Warnings are printed by LogWarnings at every start: insecure
	// settings that are allowed but should not go unnoticed.
	Warnings []string
	// certSubject is the mTLS certificate's subject, for Principal.
	certSubject string
}

// Build validates the options and loads the files they name. Every error is
// a usage error (exit code 2) that says what is missing or wrong.
func (o Options) Build() (*Config, error) {
	c := &Config{ConnectTimeout: o.ConnectTimeout}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	for _, b := range strings.Split(o.Brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	if len(c.Brokers) == 0 {
		bad("no brokers: set --brokers host:port[,host:port...] (or EQLSTREAM_BROKERS)")
	}
	if o.ConnectTimeout <= 0 {
		bad("--connect-timeout must be positive, got %v", o.ConnectTimeout)
	}

	// TLS
	if o.TLSKey != "" && o.TLSCert == "" {
		bad("--tls-key needs --tls-cert: the client certificate for mTLS is missing")
	}
	if o.TLSCert != "" && o.TLSKey == "" {
		bad("--tls-cert needs --tls-key: the private key of the client certificate is missing")
	}
	tlsOn := o.TLS || o.TLSCA != "" || o.TLSCert != "" || o.TLSKey != "" || o.TLSServerName != "" || o.TLSInsecureSkipVerify
	if tlsOn {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.TLSServerName, InsecureSkipVerify: o.TLSInsecureSkipVerify}
		if o.TLSCA != "" {
			pem, err := os.ReadFile(o.TLSCA)
			switch {
			case err != nil:
				bad("--tls-ca: %v", err)
			default:
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					bad("--tls-ca %s: no PEM certificates in the file", o.TLSCA)
				}
				tc.RootCAs = pool
			}
		}
		if o.TLSCert != "" && o.TLSKey != "" {
			cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
			if err != nil {
				bad("--tls-cert/--tls-key: %v", err)
			} else {
				tc.Certificates = []tls.Certificate{cert}
				if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
					c.certSubject = leaf.Subject.String()
				}
			}
		}
		if o.TLSInsecureSkipVerify {
			c.Warnings = append(c.Warnings, "--tls-insecure-skip-verify: the brokers' certificates are NOT verified; anyone on the network path can impersonate them and read the credentials and data; use --tls-ca instead")
		}
		c.TLS = tc
	}

	// SASL
	password, havePassword := o.SASLPassword, o.SASLPassword != ""
	if o.SASLPassword != "" && o.SASLPasswordFile != "" {
		bad("both --sasl-password and --sasl-password-file are set (perhaps EQLSTREAM_SASL_PASSWORD): give only one")
	} else if o.SASLPasswordFile != "" {
		b, err := os.ReadFile(o.SASLPasswordFile)
		switch {
		case err != nil:
			bad("--sasl-password-file: %v", err)
		default:
			password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			if password == "" {
				bad("--sasl-password-file %s is empty", o.SASLPasswordFile)
			}
			havePassword = true
		}
	}
	mech := strings.ToUpper(strings.TrimSpace(o.SASLMechanism))
	switch {
	case mech == "":
		if o.SASLUsername != "" || havePassword {
			bad("a SASL username or password is set but no --sasl-mechanism: choose one of %s", strings.Join(Mechanisms, ", "))
		}
	case !validMechanism(mech):
		bad("unknown --sasl-mechanism %q: allowed values are %s", o.SASLMechanism, strings.Join(Mechanisms, ", "))
	default:
		if o.SASLUsername == "" {
			bad("--sasl-mechanism %s needs --sasl-username", mech)
		}
		if !havePassword && o.SASLPasswordFile == "" {
			bad("--sasl-mechanism %s needs a password: --sasl-password-file FILE (or EQLSTREAM_SASL_PASSWORD)", mech)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if mech != "" {
		c.Mechanism, c.Username = mech, o.SASLUsername
		switch mech {
		case "PLAIN":
			c.SASL = plain.Auth{User: o.SASLUsername, Pass: password}.AsMechanism()
			if c.TLS == nil {
				c.Warnings = append(c.Warnings, "SASL PLAIN without TLS sends the password in clear text; add --tls")
			}
		case "SCRAM-SHA-256":
			c.SASL = scram.Auth{User: o.SASLUsername, Pass: password}.AsSha256Mechanism()
		case "SCRAM-SHA-512":
			c.SASL = scram.Auth{User: o.SASLUsername, Pass: password}.AsSha512Mechanism()
		}
	}
	if o.SASLPassword != "" && o.PasswordOnCommandLine {
		c.Warnings = append(c.Warnings, "--sasl-password on the command line can be read by other users of this machine (ps, /proc); use --sasl-password-file or EQLSTREAM_SASL_PASSWORD")
	}
	return c, nil
}

func validMechanism(m string) bool {
	for _, v := range Mechanisms {
		if m == v {
			return true
		}
	}
	return false
}

// LogWarnings logs the configuration's warnings; commands call it at every
// start.
func (c *Config) LogWarnings(log *slog.Logger) {
	for _, w := range c.Warnings {
		log.Warn(w)
	}
}

// Principal is the Kafka principal the brokers will most likely see for this
// configuration: User:<username> with SASL, User:<certificate subject> with
// mTLS alone (Kafka's default principal mapping), "" when anonymous.
func (c *Config) Principal() string {
	switch {
	case c.Username != "":
		return "User:" + c.Username
	case c.certSubject != "":
		return "User:" + c.certSubject
	}
	return ""
}

// Opts are the client options every Kafka client of a command uses: seed
// brokers, TLS, SASL, the dial timeout and the client's logger.
func (c *Config) Opts(log *slog.Logger) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.DialTimeout(c.ConnectTimeout), kgo.WithLogger(NewLogger(log))}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS))
	}
	if c.SASL != nil {
		opts = append(opts, kgo.SASL(c.SASL))
	}
	return opts
}

// Describe is a one-line, secret-free description of the configuration.
func (c *Config) Describe() string {
	var b strings.Builder
	b.WriteString(strings.Join(c.Brokers, ","))
	switch {
	case c.TLS == nil:
		b.WriteString(" plaintext")
	case len(c.TLS.Certificates) > 0:
		b.WriteString(" TLS with client certificate")
	default:
		b.WriteString(" TLS")
	}
	if c.Mechanism != "" {
		fmt.Fprintf(&b, ", SASL %s as %s", c.Mechanism, c.Username)
	}
	return b.String()
}
