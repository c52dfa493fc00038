package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/eqlstream/eqlstream/acls"
	"github.com/eqlstream/eqlstream/kafkaconn"
	"github.com/eqlstream/eqlstream/pipeline"
	"github.com/twmb/franz-go/pkg/kgo"
)

// aclsConfig is the ACL model's view of a pipeline configuration.
func aclsConfig(cfg pipeline.Config, principal string) acls.Config {
	state := cfg.StateTopic
	if state == "" {
		state = cfg.Group + "-state"
	}
	return acls.Config{InputTopics: cfg.InputTopics, AlertsTopic: cfg.AlertsTopic, DLQTopic: cfg.DLQTopic,
		StateTopic: state, RulesTopic: cfg.RulesTopic, Group: cfg.Group, TransactionalID: cfg.TransactionalID(),
		CreateTopics: cfg.CreateTopics, Principal: principal}
}

// preflight connects within the connect timeout and checks that the
// principal holds every grant the pipeline needs, so that a missing ACL
// stops the instance at start, naming the resource and the operation.
func preflight(ctx context.Context, conn *kafkaconn.Config, cfg pipeline.Config, log *slog.Logger) error {
	if err := conn.Probe(ctx, log); err != nil {
		return err
	}
	bs := acls.Required(aclsConfig(cfg, conn.Principal()))
	if cfg.UnsafeAtLeastOnce {
		kept := bs[:0]
		for _, b := range bs {
			if b.Resource != acls.TransactionalID {
				kept = append(kept, b)
			}
		}
		bs = kept
	}
	cl, err := kgo.NewClient(conn.Opts(log)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, conn.ConnectTimeout)
	defer cancel()
	err = acls.Check(cctx, cl, bs)
	var missing *acls.MissingError
	if errors.As(err, &missing) {
		return fmt.Errorf("%s lacks Kafka permissions: %w (`processor acls` prints the grants this configuration needs)", principalOf(conn), err)
	}
	var unchecked *acls.UncheckedError
	if errors.As(err, &unchecked) {
		// e.g. the group coordinator still loading: the pipeline's own
		// clients wait for it; an authorization failure there stops it
		log.Warn("startup authorization check incomplete", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("startup authorization check: %w", err)
	}
	log.Info("kafka connection and permissions checked", "kafka", conn.Describe(), "principal", principalOf(conn), "grants_checked", len(bs))
	return nil
}

// principalOf names the principal the brokers most likely see.
func principalOf(conn *kafkaconn.Config) string {
	if p := conn.Principal(); p != "" {
		return p
	}
	return "User:ANONYMOUS"
}
