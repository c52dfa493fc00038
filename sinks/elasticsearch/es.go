// Package elasticsearch is the Elasticsearch sink (processor sink
// elasticsearch): it reads alert documents from the alerts topic
// read_committed and indexes them in bulk with _id = the alert ID, so that a
// replay after a crash overwrites and never duplicates (exactly once in
// Elasticsearch). Offsets are committed only after every record of a batch
// is indexed or, when Elasticsearch rejects a document for good (a mapping
// conflict, a malformed document), written to the dead-letter topic with the
// reason. It installs an index template whose mappings follow the Elastic
// alert field map (rules/elasticalert). It owns the Elasticsearch connection
// (TLS, basic auth, API keys) and its metrics; health is reported to a
// health.Tracker like the pipeline's.
package elasticsearch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
)

// ESConfig is how to reach Elasticsearch. Secrets come from files (or the
// environment, set by the command); they are never logged.
type ESConfig struct {
	URLs               []string
	Username           string
	Password           string // from PasswordFile or EQLSTREAM_ES_PASSWORD
	PasswordFile       string
	APIKey             string // base64 "id:key" as Kibana shows it; from APIKeyFile or EQLSTREAM_ES_API_KEY
	APIKeyFile         string
	CAFile             string // PEM CA of the cluster's certificate (default: the system's)
	InsecureSkipVerify bool   // testing only
	RequestTimeout     time.Duration
}

// readSecret reads a secret file; one trailing newline is ignored.
func readSecret(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s file: %w", what, err)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("%s file %s is empty", what, path)
	}
	return s, nil
}

// client builds the go-elasticsearch client. Its own retries are off: the
// sink retries with its own backoff and health reporting.
func (c ESConfig) client() (*es.Client, error) {
	if len(c.URLs) == 0 {
		return nil, errors.New("--es-url is required")
	}
	cfg := es.Config{Addresses: c.URLs, Username: c.Username, Password: c.Password, APIKey: c.APIKey, DisableRetry: true}
	var err error
	if c.PasswordFile != "" {
		if cfg.Password, err = readSecret(c.PasswordFile, "--es-password-file"); err != nil {
			return nil, err
		}
	}
	if c.APIKeyFile != "" {
		if cfg.APIKey, err = readSecret(c.APIKeyFile, "--es-api-key-file"); err != nil {
			return nil, err
		}
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("an Elasticsearch password needs --es-username")
	}
	if cfg.APIKey != "" && cfg.Username != "" {
		return nil, errors.New("give either an API key or --es-username with a password, not both")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = c.RequestTimeout
	if c.CAFile != "" || c.InsecureSkipVerify {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // flag-controlled, warned
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("--es-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--es-ca %s: no PEM certificate in it", c.CAFile)
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	cfg.Transport = tr
	return es.NewClient(cfg)
}
