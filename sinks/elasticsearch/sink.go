package elasticsearch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/eqlstream/eqlstream/health"
	"github.com/eqlstream/eqlstream/sinks"
	json "github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter reasons (header eqlstream.error.reason).
const (
	ReasonRejected = "es_rejected"    // Elasticsearch refused the document (mapping conflict, ...)
	ReasonNoID     = "es_no_alert_id" // neither the eqlstream.alert_id header nor kibana.alert.uuid
	ReasonNotJSON  = "es_not_json"    // the value is not a JSON object
)

// Config of the sink.
type Config struct {
	AlertsTopic     string
	Group           string
	DLQTopic        string
	CreateDLQ       bool  // create the dead-letter topic when it is missing
	DLQPartitions   int32 // partitions of a created dead-letter topic
	DLQReplication  int16 // its replication factor
	Index           string
	TemplateName    string
	InstallTemplate bool
	BatchRecords    int
	MaxBackoff      time.Duration
	ES              ESConfig
}

// Sink moves alerts from Kafka to Elasticsearch.
type Sink struct {
	cfg Config
	cl  *kgo.Client
	es  *es.Client
	log *slog.Logger
	m   *Metrics
	h   *health.Tracker
}

// New builds the sink; kopts are the Kafka client options (brokers, TLS,
// SASL, logger).
func New(cfg Config, log *slog.Logger, m *Metrics, kopts ...kgo.Opt) (*Sink, error) {
	if cfg.AlertsTopic == "" || cfg.Group == "" || cfg.DLQTopic == "" || cfg.Index == "" {
		return nil, errors.New("alerts topic, group, dead-letter topic and index are required")
	}
	if cfg.BatchRecords <= 0 {
		cfg.BatchRecords = 1000
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.ES.RequestTimeout <= 0 {
		cfg.ES.RequestTimeout = 30 * time.Second
	}
	esc, err := cfg.ES.client()
	if err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, es: esc, log: log, m: m, h: health.New(30*time.Second, 5*time.Minute)}
	opts := append([]kgo.Opt{
		kgo.ConsumeTopics(cfg.AlertsTopic),
		kgo.ConsumerGroup(cfg.Group),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { s.h.Joined() }),
		kgo.OnPartitionsLost(func(context.Context, *kgo.Client, map[string][]int32) { s.h.GroupLost() }),
	}, kopts...)
	if s.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, err
	}
	return s, nil
}

// Health is the sink's readiness and liveness.
func (s *Sink) Health() *health.Tracker { return s.h }

// Close leaves the group and closes the clients (a rebalance blocked by
// the last poll is allowed first, or leaving would wait for it).
func (s *Sink) Close() {
	s.cl.AllowRebalance()
	s.cl.Close()
}

// Run indexes until ctx ends or an error that retrying cannot heal
// (authentication, authorization, an index that cannot exist).
func (s *Sink) Run(ctx context.Context) error {
	if err := s.waitES(ctx); err != nil {
		return err
	}
	if err := s.ensureDLQ(ctx); err != nil {
		return err
	}
	if s.cfg.InstallTemplate {
		if err := s.installTemplate(ctx); err != nil {
			return err
		}
	}
	go s.pingBrokers(ctx)
	for {
		fs := s.cl.PollRecords(ctx, s.cfg.BatchRecords)
		if ctx.Err() != nil {
			s.h.Stopping()
			return nil
		}
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			s.h.Poll(err)
			if isFatalKafka(err) {
				fatal = fmt.Errorf("reading %s[%d]: %w", t, p, err)
			}
			s.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
		})
		if fatal != nil {
			return fatal
		}
		recs := fs.Records()
		if fs.Err() == nil {
			s.h.Poll(nil)
			s.h.Broker(nil)
		}
		if len(recs) == 0 {
			s.cl.AllowRebalance()
			continue
		}
		s.h.TxnBegun()
		if err := s.batch(ctx, recs); err != nil {
			s.h.TxnEnded(false, err.Error())
			if ctx.Err() != nil {
				s.h.Stopping()
				return nil
			}
			return err
		}
		if err := s.cl.CommitRecords(ctx, recs...); err != nil {
			// not fatal: a rebalance or a dead coordinator; the records
			// are re-read and overwrite the same _ids
			s.log.Warn("committing offsets failed; the batch will be indexed again (same _ids: no duplicates)", "err", err)
			s.h.TxnEnded(false, "")
		} else {
			s.m.Batches.Inc()
			s.m.LastCommitTS.SetToCurrentTime()
			s.h.TxnEnded(true, "")
		}
		s.cl.AllowRebalance()
	}
}

// op is one record on its way to Elasticsearch.
type op struct {
	rec *kgo.Record
	id  string
}

// batch indexes recs; it returns only when every record is indexed or
// dead-lettered, or on a fatal error (or ctx's end).
func (s *Sink) batch(ctx context.Context, recs []*kgo.Record) error {
	var pending []op
	var dead []*kgo.Record
	for _, r := range recs {
		id, reason, msg := alertID(r)
		if reason != "" {
			dead = append(dead, sinks.DeadLetterRecord(s.cfg.DLQTopic, r, reason, msg))
			s.m.DeadLetters.WithLabelValues(reason).Inc()
			continue
		}
		pending = append(pending, op{rec: r, id: id})
	}
	backoff := 100 * time.Millisecond
	for len(pending) > 0 {
		retry, rejected, err := s.bulk(ctx, pending)
		if err != nil {
			var fe *fatalError
			if errors.As(err, &fe) {
				return err
			}
			retry = pending
			s.log.Warn("bulk request failed; retrying", "err", err, "backoff", backoff)
			s.h.Retrying("elasticsearch: " + err.Error())
		} else if len(retry) > 0 {
			s.h.Retrying(fmt.Sprintf("elasticsearch: %d documents refused for now (429/5xx)", len(retry)))
		}
		dead = append(dead, rejected...)
		pending = retry
		if len(pending) == 0 {
			break
		}
		s.m.Retries.Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, s.cfg.MaxBackoff)
	}
	s.h.Retrying("")
	if len(dead) > 0 {
		// acknowledged before the offsets are committed
		if err := s.cl.ProduceSync(ctx, dead...).FirstErr(); err != nil {
			if isFatalKafka(err) {
				return fmt.Errorf("dead-letter topic %s: %w", s.cfg.DLQTopic, err)
			}
			return fmt.Errorf("dead-letter topic %s: %w (the batch will be read again)", s.cfg.DLQTopic, err)
		}
	}
	return nil
}

// alertID is the _id of a record: the eqlstream.alert_id header, else the
// document's kibana.alert.uuid. reason is set when the record cannot be
// indexed at all.
func alertID(r *kgo.Record) (id, reason, msg string) {
	for _, h := range r.Headers {
		if h.Key == sinks.HeaderAlertID && len(h.Value) > 0 {
			id = string(h.Value)
		}
	}
	var d struct {
		UUID string `json:"kibana.alert.uuid"`
	}
	if err := json.Unmarshal(r.Value, &d); err != nil || len(bytes.TrimSpace(r.Value)) == 0 || bytes.TrimSpace(r.Value)[0] != '{' {
		return "", ReasonNotJSON, fmt.Sprintf("not a JSON object: %v", err)
	}
	if id == "" {
		id = d.UUID
	}
	if id == "" {
		return "", ReasonNoID, "no eqlstream.alert_id header and no kibana.alert.uuid"
	}
	return id, "", ""
}

type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// bulk sends one bulk request: retry are the documents to send again
// (429, 5xx), rejected the dead letters of documents refused for good.
func (s *Sink) bulk(ctx context.Context, ops []op) (retry []op, rejected []*kgo.Record, err error) {
	var body bytes.Buffer
	for _, o := range ops {
		meta, _ := json.Marshal(map[string]any{"index": map[string]any{"_index": s.cfg.Index, "_id": o.id}})
		body.Write(meta)
		body.WriteByte('\n')
		if err := json.Compact(&body, o.rec.Value); err != nil {
			body.Write(bytes.TrimSpace(o.rec.Value)) // Elasticsearch reports it per item
		}
		body.WriteByte('\n')
	}
	start := time.Now()
	res, err := s.es.Bulk(bytes.NewReader(body.Bytes()), s.es.Bulk.WithContext(ctx))
	s.m.BulkSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.Bulk.WithLabelValues("error").Inc()
		return nil, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		s.m.Bulk.WithLabelValues("error").Inc()
		return nil, nil, err
	}
	if res.StatusCode != http.StatusOK {
		s.m.Bulk.WithLabelValues("error").Inc()
		e := fmt.Errorf("bulk: HTTP %d: %.300s", res.StatusCode, raw)
		if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusBadRequest {
			return nil, nil, &fatalError{fmt.Errorf("elasticsearch %s: %w", s.cfg.ES.URLs[0], e)}
		}
		return nil, nil, e
	}
	var br struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			ID     string `json:"_id"`
			Status int    `json:"status"`
			Error  *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
				Caused *struct {
					Type   string `json:"type"`
					Reason string `json:"reason"`
				} `json:"caused_by"`
			} `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &br); err != nil || len(br.Items) != len(ops) {
		s.m.Bulk.WithLabelValues("error").Inc()
		return nil, nil, fmt.Errorf("bulk: unexpected response (%d items for %d documents): %v", len(br.Items), len(ops), err)
	}
	ok := 0
	for i, item := range br.Items {
		var it = item["index"]
		switch {
		case it.Status >= 200 && it.Status < 300:
			ok++
		case it.Status == http.StatusTooManyRequests || it.Status >= 500:
			retry = append(retry, ops[i])
		default:
			msg := "status " + strconv.Itoa(it.Status)
			if it.Error != nil {
				msg = it.Error.Type + ": " + it.Error.Reason
				if it.Error.Caused != nil {
					msg += " (caused by " + it.Error.Caused.Type + ": " + it.Error.Caused.Reason + ")"
				}
			}
			s.log.Warn("document rejected; to the dead-letter topic", "id", ops[i].id, "topic", ops[i].rec.Topic,
				"partition", ops[i].rec.Partition, "offset", ops[i].rec.Offset, "reason", msg)
			rejected = append(rejected, sinks.DeadLetterRecord(s.cfg.DLQTopic, ops[i].rec, ReasonRejected, msg))
			s.m.DeadLetters.WithLabelValues(ReasonRejected).Inc()
		}
	}
	s.m.Indexed.Add(float64(ok))
	if ok == len(ops) {
		s.m.Bulk.WithLabelValues("ok").Inc()
	} else {
		s.m.Bulk.WithLabelValues("partial").Inc()
	}
	return retry, rejected, nil
}

// waitES waits until Elasticsearch answers (retrying with backoff, not
// ready meanwhile); wrong credentials stop the sink. (GET _cluster/health:
// the minimal distributions have no GET /.)
func (s *Sink) waitES(ctx context.Context) error {
	backoff := 200 * time.Millisecond
	for {
		res, err := s.es.Cluster.Health(s.es.Cluster.Health.WithContext(ctx))
		if err == nil {
			code := res.StatusCode
			body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
			res.Body.Close()
			switch {
			case code == http.StatusOK:
				s.h.Retrying("")
				s.log.Info("elasticsearch answers", "url", s.cfg.ES.URLs[0])
				return nil
			case code == http.StatusUnauthorized || code == http.StatusForbidden:
				return fmt.Errorf("elasticsearch %s: HTTP %d (check --es-username/--es-password-file or --es-api-key-file): %.200s", s.cfg.ES.URLs[0], code, body)
			}
			err = fmt.Errorf("HTTP %d: %.200s", code, body)
		}
		if ctx.Err() != nil {
			return nil
		}
		if strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "tls:") {
			return fmt.Errorf("elasticsearch %s: %w", s.cfg.ES.URLs[0], err)
		}
		s.h.Retrying("elasticsearch unreachable: " + err.Error())
		s.log.Warn("elasticsearch unreachable; retrying", "url", s.cfg.ES.URLs[0], "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, s.cfg.MaxBackoff)
	}
}

// isFatalKafka: authorization and similar errors retrying cannot heal.
func isFatalKafka(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return !ke.Retriable
	}
	return false
}

// pingBrokers reports to the health tracker whether the brokers answer
// (polling blocks while the topic is quiet, so it cannot tell).
func (s *Sink) pingBrokers(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.cl.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		s.h.Broker(err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ensureDLQ checks that the dead-letter topic exists (creating it with
// CreateDLQ): a rejected document must have somewhere to go before the
// first offset is committed.
func (s *Sink) ensureDLQ(ctx context.Context) error {
	adm := kadm.NewClient(s.cl)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	td, err := adm.ListTopics(cctx, s.cfg.DLQTopic)
	if err != nil {
		return fmt.Errorf("dead-letter topic %s: %w", s.cfg.DLQTopic, err)
	}
	if td.Has(s.cfg.DLQTopic) && td[s.cfg.DLQTopic].Err == nil {
		return nil
	}
	if !s.cfg.CreateDLQ {
		return fmt.Errorf("dead-letter topic %s does not exist (create it, or give --create-topics)", s.cfg.DLQTopic)
	}
	parts, rf := max(s.cfg.DLQPartitions, 1), max(s.cfg.DLQReplication, 1)
	if _, err := adm.CreateTopic(cctx, parts, rf, nil, s.cfg.DLQTopic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating dead-letter topic %s: %w", s.cfg.DLQTopic, err)
	}
	s.log.Info("topic created", "topic", s.cfg.DLQTopic, "partitions", parts, "replication_factor", rf)
	return nil
}
