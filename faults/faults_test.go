package faults

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestClassify(t *testing.T) {
	s := Scope{Group: "eqlstream", TransactionalID: "eqlstream-eqlstream-node-1", Operation: "Write", Topic: "eqlstream-alerts"}
	wrap := func(err error) error { return fmt.Errorf("producing: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		s    Scope
		want string // "" when healable
	}{
		{"topic write denied (produce promise)", wrap(kerr.TopicAuthorizationFailed), s,
			`not authorized to Write topic "eqlstream-alerts" (TOPIC_AUTHORIZATION_FAILED)`},
		{"topic read denied (fetch)", kerr.TopicAuthorizationFailed, Scope{Operation: "Read", Topic: "ecs-events"},
			`not authorized to Read topic "ecs-events" (TOPIC_AUTHORIZATION_FAILED)`},
		{"group denied (group session error)", &kgo.ErrGroupSession{Err: kerr.GroupAuthorizationFailed}, s,
			`not authorized to Read group "eqlstream" (GROUP_AUTHORIZATION_FAILED)`},
		{"transactional id denied", wrap(kerr.TransactionalIDAuthorizationFailed), s,
			`not authorized to Write transactional ID "eqlstream-eqlstream-node-1" (TRANSACTIONAL_ID_AUTHORIZATION_FAILED)`},
		{"cluster denied", wrap(kerr.ClusterAuthorizationFailed), s,
			`not authorized to IdempotentWrite on the cluster (CLUSTER_AUTHORIZATION_FAILED)`},
		{"fenced (End error)", fmt.Errorf("ending: %w", kerr.ProducerFenced), s,
			`producer fenced (PRODUCER_FENCED): a newer instance uses transactional ID "eqlstream-eqlstream-node-1", or the broker aborted a transaction that outlived the transaction timeout`},
		{"fenced, old epoch", kerr.InvalidProducerEpoch, s,
			`producer fenced (INVALID_PRODUCER_EPOCH): a newer instance uses transactional ID "eqlstream-eqlstream-node-1", or the broker aborted a transaction that outlived the transaction timeout`},
		{"topic recreated", kerr.UnknownTopicID, s,
			`topic "eqlstream-alerts" was deleted or recreated while in use (UNKNOWN_TOPIC_ID)`},
		{"joined errors keep the chain", errors.Join(errors.New("x"), kerr.TopicAuthorizationFailed), s,
			`not authorized to Write topic "eqlstream-alerts" (TOPIC_AUTHORIZATION_FAILED)`},
		{"broker down", errors.New("dial tcp 127.0.0.1:9092: connect: connection refused"), s, ""},
		{"leader moving", kerr.NotLeaderForPartition, s, ""},
		{"coordinator loading", kerr.CoordinatorLoadInProgress, s, ""},
		{"not enough replicas", wrap(kerr.NotEnoughReplicas), s, ""},
		{"request timed out", kerr.RequestTimedOut, s, ""},
		{"unknown topic is healable here (bounded by the caller)", kerr.UnknownTopicOrPartition, s, ""},
		{"nil", nil, s, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Classify(tc.err, tc.s)
			switch {
			case tc.want == "" && f != nil:
				t.Fatalf("Classify(%v) = %q, want healable", tc.err, f)
			case tc.want != "" && f == nil:
				t.Fatalf("Classify(%v) = healable, want %q", tc.err, tc.want)
			case f != nil && f.Error() != tc.want:
				t.Fatalf("Classify(%v) = %q, want %q", tc.err, f, tc.want)
			case f != nil && !errors.Is(f, tc.err):
				t.Fatalf("the fatal error does not wrap %v", tc.err)
			}
		})
	}
}

func TestGone(t *testing.T) {
	f := Gone(Scope{Topic: "eqlstream-alerts"}, kerr.UnknownTopicOrPartition, 10200*time.Millisecond)
	want := `topic "eqlstream-alerts" does not exist (UNKNOWN_TOPIC_OR_PARTITION for 10s): was it deleted?`
	if f.Error() != want || !IsUnknownTopic(f) {
		t.Fatalf("Gone = %q, want %q wrapping UNKNOWN_TOPIC_OR_PARTITION", f, want)
	}
}
