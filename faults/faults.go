// Package faults classifies the errors the pipeline meets talking to Kafka,
// once, in one place: an error either heals (a broker down, a leader moving,
// a coordinator loading: retry with backoff while not ready) or cannot heal
// (an authorization failure, a topic that is gone, a producer fenced by a
// newer instance with the same transactional ID, a record the broker will
// never accept) and stops the process with a message that names the
// resource and the operation, e.g.
//
//	not authorized to Write topic "eqlstream-alerts" (TOPIC_AUTHORIZATION_FAILED)
//
// Classification uses errors.Is with franz-go's kerr sentinels, so wrapped
// errors (produce promises, transaction ends, fetches, restores) classify
// the same way.
package faults

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Fatal is an error that retrying cannot heal.
type Fatal struct {
	msg string
	Err error
}

func (f *Fatal) Error() string { return f.msg }
func (f *Fatal) Unwrap() error { return f.Err }

// Scope names what the failing request was about, so that the message can
// name it: the instance's group and transactional ID, and the operation and
// topic of the request (Operation as Kafka's ACLs name it: Read, Write,
// Describe).
type Scope struct {
	Group           string
	TransactionalID string
	Operation       string
	Topic           string
}

// Classify returns a *Fatal when err cannot heal, and nil when it can (or
// is nil). UNKNOWN_TOPIC_OR_PARTITION is healable here (a topic being
// created, or metadata not yet propagated): callers that see it persist
// use Gone.
func Classify(err error, s Scope) *Fatal {
	if err == nil {
		return nil
	}
	code := func(e *kerr.Error) string { return e.Message }
	topic := func() string {
		if s.Topic == "" {
			return "topic"
		}
		return fmt.Sprintf("topic %q", s.Topic)
	}
	op := s.Operation
	if op == "" {
		op = "access"
	}
	f := func(format string, args ...any) *Fatal {
		return &Fatal{msg: fmt.Sprintf(format, args...), Err: err}
	}
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		return f("not authorized to %s %s (%s)", op, topic(), code(kerr.TopicAuthorizationFailed))
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return f("not authorized to Read group %q (%s)", s.Group, code(kerr.GroupAuthorizationFailed))
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		return f("not authorized to Write transactional ID %q (%s)", s.TransactionalID, code(kerr.TransactionalIDAuthorizationFailed))
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		return f("not authorized to IdempotentWrite on the cluster (%s)", code(kerr.ClusterAuthorizationFailed))
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return f("authentication failed (%s): %v", code(kerr.SaslAuthenticationFailed), err)
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch),
		errors.Is(err, kerr.TransactionalIDNotFound), errors.Is(err, kerr.InvalidProducerIDMapping):
		var ke *kerr.Error
		errors.As(err, &ke)
		return f("producer fenced (%s): a newer instance uses transactional ID %q, or the broker aborted a transaction that outlived the transaction timeout", ke.Message, s.TransactionalID)
	case errors.Is(err, kerr.UnknownTopicID):
		return f("%s was deleted or recreated while in use (%s)", topic(), code(kerr.UnknownTopicID))
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge), errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.PolicyViolation), errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.InvalidRequiredAcks):
		var ke *kerr.Error
		errors.As(err, &ke)
		return f("%s rejects the records written to it (%s): %v", topic(), ke.Message, err)
	case errors.Is(err, kerr.UnsupportedForMessageFormat), errors.Is(err, kerr.UnsupportedVersion):
		var ke *kerr.Error
		errors.As(err, &ke)
		return f("the brokers do not support what %s needs (%s)", topic(), ke.Message)
	}
	return nil
}

// Gone is the error for a topic that has answered UNKNOWN_TOPIC_OR_PARTITION
// for longer than a bound: it was deleted.
func Gone(s Scope, err error, d time.Duration) *Fatal {
	return &Fatal{msg: fmt.Sprintf("topic %q does not exist (%s for %s): was it deleted?", s.Topic, kerr.UnknownTopicOrPartition.Message, d.Round(time.Second)), Err: err}
}

// IsUnknownTopic reports whether err says a topic or partition is unknown.
func IsUnknownTopic(err error) bool { return errors.Is(err, kerr.UnknownTopicOrPartition) }
