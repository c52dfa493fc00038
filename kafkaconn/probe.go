package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProbeError is a failed startup probe: which brokers, what most likely went
// wrong, and the client's own error.
type ProbeError struct {
	Target string // brokers and security, e.g. "127.0.0.1:9093 TLS, SASL SCRAM-SHA-512 as alice"
	Hint   string // the likely cause in words
	Err    error
}

func (e *ProbeError) Error() string {
	return fmt.Sprintf("cannot connect to Kafka (%s): %s: %v", e.Target, e.Hint, e.Err)
}

func (e *ProbeError) Unwrap() error { return e.Err }

// Probe connects to the cluster, completes TLS and SASL and asks for
// metadata, within ConnectTimeout. Errors that retrying cannot heal (a
// rejected login or certificate, TLS on one side only) return at once;
// others (nothing listening yet, a timeout) are retried until the bound. The
// error names the brokers and the likely cause.
func (c *Config) Probe(ctx context.Context, log *slog.Logger) error {
	pctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	var hook dialHook
	cl, err := kgo.NewClient(append(c.Opts(log), kgo.WithHooks(&hook))...)
	if err != nil {
		return &ProbeError{Target: c.Describe(), Hint: "invalid client configuration", Err: err}
	}
	defer cl.Close()
	var last error
	backoff := 250 * time.Millisecond
	for {
		err := cl.Ping(pctx)
		if err == nil {
			return c.probeAdvertised(pctx, cl)
		}
		if ctx.Err() != nil {
			return ctx.Err() // stopped by the caller (signal), not a probe failure
		}
		if pctx.Err() == nil || last == nil {
			last = err
		}
		_, final := c.hint(err)
		if d := hook.last(); c.TLS != nil && d != nil && isEOF(d) {
			final = true // closed during the TLS handshake
		}
		if final || pctx.Err() != nil {
			break
		}
		select {
		case <-pctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	if isTimeout(last) {
		if d := hook.last(); d != nil {
			last = d // the dial error says more than the deadline
		}
	}
	hint, final := c.hint(last)
	if d := hook.last(); c.TLS != nil && d != nil && isEOF(d) && isEOF(last) {
		hint, final = "the broker closed the connection during the TLS handshake: the listener is probably plaintext (remove --tls or use the TLS port)", true
	}
	if !final && pctx.Err() != nil {
		hint = fmt.Sprintf("no usable answer within %v (--connect-timeout); last: %s", c.ConnectTimeout, hint)
	}
	return &ProbeError{Target: c.Describe(), Hint: hint, Err: last}
}

// probeAdvertised reaches every broker the cluster advertises: the seeds
// answering is not enough when advertised.listeners name addresses this
// client cannot reach (a container's or pod's internal name, say).
func (c *Config) probeAdvertised(ctx context.Context, cl *kgo.Client) error {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		hint, _ := c.hint(err)
		return &ProbeError{Target: c.Describe(), Hint: hint, Err: err}
	}
	for _, m := range resp.Brokers {
		if _, err := cl.Broker(int(m.NodeID)).Request(ctx, req); err != nil {
			hint, _ := c.hint(err)
			return &ProbeError{Target: c.Describe(), Err: err, Hint: fmt.Sprintf(
				"the seed brokers answer, but broker %d, advertised as %s, cannot be reached (check the brokers' advertised.listeners): %s",
				m.NodeID, net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))), hint)}
		}
	}
	return nil
}

// dialHook remembers the last failed dial, the cause behind a timeout.
type dialHook struct {
	mu  sync.Mutex
	err error
}

func (h *dialHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.mu.Lock()
		h.err = err
		h.mu.Unlock()
	}
}

func (h *dialHook) last() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// hint explains err for this configuration; final errors cannot heal by
// retrying.
func (c *Config) hint(err error) (hint string, final bool) {
	var ke *kerr.Error
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recHdr tls.RecordHeaderError
	var alert tls.AlertError
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return "no answer", false
	case errors.As(err, &ke):
		switch ke {
		case kerr.SaslAuthenticationFailed:
			return fmt.Sprintf("SASL %s login as %q failed: wrong password, unknown user, or no %s credentials for that user", c.Mechanism, c.Username, c.Mechanism), true
		case kerr.UnsupportedSaslMechanism:
			return fmt.Sprintf("the broker's listener does not enable SASL %s", c.Mechanism), true
		case kerr.IllegalSaslState:
			return "the broker's listener does not expect SASL (remove --sasl-mechanism?)", true
		case kerr.ClusterAuthorizationFailed, kerr.TopicAuthorizationFailed:
			return "not authorized", true
		}
		return "the broker refused", !ke.Retriable
	case errors.As(err, &unknownCA):
		return "the broker's certificate is signed by an unknown authority: give its CA with --tls-ca", true
	case errors.As(err, &hostErr):
		return fmt.Sprintf("the broker's certificate is not valid for the host name %q: connect by a name in the certificate or set --tls-server-name", hostErr.Host), true
	case errors.As(err, &invalid):
		return "the broker's certificate is invalid (expired, not yet valid, or not for servers)", true
	case errors.As(err, &recHdr):
		return "the broker did not answer with TLS: the listener is probably plaintext (remove --tls or use the TLS port)", true
	case errors.As(err, &alert) || strings.Contains(err.Error(), "remote error: tls:"):
		if c.TLS != nil && len(c.TLS.Certificates) == 0 {
			return "the broker ended the TLS handshake; it probably requires a client certificate (--tls-cert, --tls-key)", true
		}
		return "the broker rejected the TLS handshake (client certificate not trusted, or no common TLS version?)", true
	case isEOF(err):
		switch {
		case c.TLS == nil && c.SASL == nil:
			return "the broker closed the connection: the listener probably expects TLS (add --tls) or SASL (add --sasl-mechanism)", true
		case c.TLS == nil:
			return "the broker closed the connection: the listener probably expects TLS (add --tls), or it rejected the SASL login", true
		case c.SASL == nil:
			return "the broker closed the connection: the listener probably requires SASL (add --sasl-mechanism) or a client certificate", true
		}
		return "the broker closed the connection; it may have rejected the SASL login", true
	case strings.Contains(err.Error(), "appear to be a tls alert record"):
		// franz-go's reading of a TLS alert where a Kafka response should be
		return "the broker answered with TLS: the listener expects TLS (add --tls and --tls-ca)", true
	case strings.Contains(err.Error(), "the beginning of an HTTP response"):
		return "an HTTP server answered, not Kafka: check the broker port", true
	case strings.Contains(err.Error(), "invalid large response size"):
		return "the answer is not Kafka's (wrong port, or TLS on one side only?)", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing is listening there (is the broker up and the port right?)", false
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve host name %q", dnsErr.Name), !dnsErr.IsTemporary && !dnsErr.IsTimeout
	case isTimeout(err):
		return "timed out", false
	}
	return "connection failed", false
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
