package acls

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// realBroker connects to the package's Kafka (internal/kafkatest:
// KAFKA_BROKERS, else a container, else a kafka-local.sh node; under CI=true
// none is a failure).
func realBroker(t *testing.T) *kgo.Client {
	t.Helper()
	bs := kafkatest.Brokers(t)
	brokers := strings.Join(bs, ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("broker %s: %v", brokers, err)
	}
	return cl
}

// TestSideEffectFreeProbesOnRealKafka checks the premise of Check against
// real Apache Kafka: the invalid requests it sends are rejected for their
// invalid timeout (after authorization) and change nothing.
func TestSideEffectFreeProbesOnRealKafka(t *testing.T) {
	cl := realBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	suffix := time.Now().Format("150405.000000")
	txnID := "acls-test-txn-" + suffix
	group := "acls-test-group-" + suffix

	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionalID, ip.TransactionTimeoutMillis, ip.ProducerID, ip.ProducerEpoch = kmsg.StringPtr(txnID), 0, -1, -1
	err := retry(ctx, func() error {
		resp, err := ip.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		return err
	})
	if !errors.Is(err, kerr.InvalidTransactionTimeout) {
		t.Fatalf("InitProducerId with a zero timeout: %v, want INVALID_TRANSACTION_TIMEOUT", err)
	}
	// nothing was registered for the transactional ID
	dt := kmsg.NewPtrDescribeTransactionsRequest()
	dt.TransactionalIDs = []string{txnID}
	dresp, err := dt.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if e := kerr.ErrorForCode(dresp.TransactionStates[0].ErrorCode); !errors.Is(e, kerr.TransactionalIDNotFound) {
		t.Errorf("after the probe the transactional ID is %v (state %q), want TRANSACTIONAL_ID_NOT_FOUND", e, dresp.TransactionStates[0].State)
	}

	cause, err := checkGroupJoin(ctx, cl, Binding{Resource: Group, Name: group, Operation: Read})
	if cause != "" || err != nil {
		t.Fatalf("JoinGroup probe: cause %q err %v, want neither", cause, err)
	}
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{group}
	gresp, err := dg.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if g := gresp.Groups[0]; len(g.Members) != 0 || g.State != "Dead" && kerr.ErrorForCode(g.ErrorCode) == nil {
		t.Errorf("after the probe the group is %q with %d members (error %v), want no group", g.State, len(g.Members), kerr.ErrorForCode(g.ErrorCode))
	}

	// With no authorizer every check passes.
	bs := Required(Config{InputTopics: []string{"acls-in-" + suffix}, AlertsTopic: "a-" + suffix, DLQTopic: "d-" + suffix,
		StateTopic: "s-" + suffix, Group: group, TransactionalID: txnID, CreateTopics: true})
	if err := Check(ctx, cl, bs); err != nil {
		t.Fatalf("Check without an authorizer: %v", err)
	}
}
