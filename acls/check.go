package acls

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Finding is one required binding the broker says the principal lacks.
type Finding struct {
	Binding
	// Cause is the broker's error code, or what its authorized-operations
	// answer listed instead.
	Cause string
}

func (f Finding) String() string {
	return fmt.Sprintf("not authorized to %s (%s)", f.Binding, f.Cause)
}

// MissingError lists every required binding the startup check found
// missing.
type MissingError struct{ Findings []Finding }

func (e *MissingError) Error() string {
	parts := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}

// Check asks the brokers whether the client's principal holds the bindings,
// without side effects, and returns a *MissingError naming each missing one:
//
//   - topics: Metadata with IncludeTopicAuthorizedOperations (the operations
//     the principal may perform on each topic, implied ones included);
//   - Create: CreateTopics with ValidateOnly, for topics that do not exist;
//   - group: DescribeGroups with IncludeAuthorizedOperations, or for a group
//     that does not exist yet a JoinGroup with a zero session timeout, which
//     the broker authorizes (Read) before it rejects the timeout;
//   - transactional ID: InitProducerId with a zero transaction timeout, which
//     the broker authorizes (Write) before it rejects the timeout, so no
//     producer epoch is bumped and no transaction is touched.
//
// What a broker does not report (old versions) is not checked. A missing
// grant gives a *MissingError; a check that could not be made (no
// coordinator in time) gives *UncheckedError values joined, which callers
// may log and ignore; other errors are returned as they are.
func Check(ctx context.Context, cl *kgo.Client, bs []Binding) error {
	var found []Finding
	var unchecked []error
	miss := func(b Binding, cause string) { found = append(found, Finding{b, cause}) }

	var topics []string
	for _, b := range bs {
		if b.Resource == Topic {
			topics = append(topics, b.Name)
		}
	}
	exists := map[string]bool{}
	if len(topics) > 0 {
		req := kmsg.NewPtrMetadataRequest()
		for _, t := range sortedUnique(topics) {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
		req.IncludeTopicAuthorizedOperations = true
		req.AllowAutoTopicCreation = false
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("authorization check: metadata of %v: %w", sortedUnique(topics), err)
		}
		byName := map[string]kmsg.MetadataResponseTopic{}
		for _, t := range resp.Topics {
			if t.Topic != nil {
				byName[*t.Topic] = t
			}
		}
		for _, b := range bs {
			if b.Resource != Topic {
				continue
			}
			t, ok := byName[b.Name]
			if !ok {
				continue
			}
			err := kerr.ErrorForCode(t.ErrorCode)
			switch {
			case err == nil:
				exists[b.Name] = true
				if b.Operation != Create {
					if cause, ok := lacks(t.AuthorizedOperations, b.Operation); !ok {
						miss(b, cause)
					}
				}
			case errors.Is(err, kerr.TopicAuthorizationFailed) && b.Operation != Create:
				// Create is checked below: the topic may be missing
				miss(b, "TOPIC_AUTHORIZATION_FAILED: not even Describe")
			}
		}
	}

	for _, b := range bs {
		var cause string
		var err error
		switch {
		case b.Resource == Topic && b.Operation == Create && !exists[b.Name]:
			// only missing topics are created; this one may exist unseen
			cause, err = checkCreate(ctx, cl, b.Name)
		case b.Resource == Group:
			cause, err = checkGroup(ctx, cl, b)
		case b.Resource == TransactionalID:
			cause, err = checkTxnID(ctx, cl, b)
		}
		var u *UncheckedError
		switch {
		case errors.As(err, &u):
			unchecked = append(unchecked, err)
		case err != nil:
			return err
		case cause != "":
			miss(b, cause)
		}
	}
	if len(found) > 0 {
		return &MissingError{Findings: found}
	}
	return errors.Join(unchecked...)
}

var opCodes = map[string]kmsg.ACLOperation{
	Read: kmsg.ACLOperationRead, Write: kmsg.ACLOperationWrite, Create: kmsg.ACLOperationCreate,
	Describe: kmsg.ACLOperationDescribe, DescribeConfigs: kmsg.ACLOperationDescribeConfigs,
}

// lacks reports whether the authorized-operations bitfield grants op; an
// unreported bitfield grants everything (nothing to check).
func lacks(ops int32, op string) (string, bool) {
	if ops == math.MinInt32 {
		return "", true
	}
	code, ok := opCodes[op]
	if !ok || ops&(1<<uint(code)) != 0 {
		return "", true
	}
	var have []string
	for _, name := range []string{Read, Write, Create, Describe, DescribeConfigs} {
		if ops&(1<<uint(opCodes[name])) != 0 {
			have = append(have, name)
		}
	}
	if len(have) == 0 {
		have = []string{"nothing"}
	}
	return "the broker allows only " + strings.Join(have, ", "), false
}

func checkCreate(ctx context.Context, cl *kgo.Client, topic string) (string, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	req.Topics = append(req.Topics, rt)
	req.ValidateOnly = true
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", &UncheckedError{What: fmt.Sprintf("Create on topic %q", topic), Err: err}
	}
	for _, t := range resp.Topics {
		if e := kerr.ErrorForCode(t.ErrorCode); errors.Is(e, kerr.TopicAuthorizationFailed) || errors.Is(e, kerr.ClusterAuthorizationFailed) {
			return e.(*kerr.Error).Message + " (CreateTopics, validate only)", nil
		}
	}
	return "", nil
}

func checkGroup(ctx context.Context, cl *kgo.Client, b Binding) (string, error) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{b.Name}
	req.IncludeAuthorizedOperations = true
	var resp *kmsg.DescribeGroupsResponse
	err := retry(ctx, func() (err error) {
		if resp, err = req.RequestWith(ctx, cl); err == nil && len(resp.Groups) == 1 {
			err = kerr.ErrorForCode(resp.Groups[0].ErrorCode)
		}
		return err
	})
	if errors.Is(err, kerr.GroupAuthorizationFailed) {
		return "GROUP_AUTHORIZATION_FAILED: not even Describe", nil
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return "", &UncheckedError{What: fmt.Sprintf("Read on group %q", b.Name), Err: err}
	}
	for _, g := range resp.Groups {
		if g.Group != b.Name {
			continue
		}
		if errors.Is(kerr.ErrorForCode(g.ErrorCode), kerr.GroupAuthorizationFailed) {
			return "GROUP_AUTHORIZATION_FAILED: not even Describe", nil
		}
		if g.ErrorCode == 0 && g.AuthorizedOperations != math.MinInt32 {
			cause, _ := lacks(g.AuthorizedOperations, b.Operation)
			return cause, nil
		}
	}
	return checkGroupJoin(ctx, cl, b)
}

// checkGroupJoin covers groups that do not exist yet, for which Kafka 4
// reports no authorized operations: a JoinGroup with a zero session timeout
// is authorized (Read) and then rejected as INVALID_SESSION_TIMEOUT before
// the coordinator touches the group.
func checkGroupJoin(ctx context.Context, cl *kgo.Client, b Binding) (string, error) {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = b.Name
	req.SessionTimeoutMillis = 0 // invalid on purpose
	req.RebalanceTimeoutMillis = 1000
	req.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "cooperative-sticky"
	req.Protocols = append(req.Protocols, p)
	err := retry(ctx, func() error {
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		return err
	})
	switch {
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return "GROUP_AUTHORIZATION_FAILED", nil
	case errors.Is(err, kerr.InvalidSessionTimeout):
		return "", nil
	}
	if err == nil {
		err = errors.New("the broker accepted a zero session timeout")
	}
	return "", &UncheckedError{What: fmt.Sprintf("Read on group %q", b.Name), Err: err}
}

func checkTxnID(ctx context.Context, cl *kgo.Client, b Binding) (string, error) {
	id := b.Name
	if b.Pattern == Prefixed {
		if b.Example == "" {
			return "", nil
		}
		id = b.Example
	}
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = kmsg.StringPtr(id)
	req.TransactionTimeoutMillis = 0 // invalid on purpose: rejected after authorization, before any state change
	req.ProducerID, req.ProducerEpoch = -1, -1
	err := retry(ctx, func() error {
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		return err
	})
	switch {
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		if b.Pattern == Prefixed {
			return fmt.Sprintf("TRANSACTIONAL_ID_AUTHORIZATION_FAILED for %q", id), nil
		}
		return "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", nil
	case err == nil, errors.Is(err, kerr.InvalidTransactionTimeout):
		return "", nil
	}
	return "", &UncheckedError{What: fmt.Sprintf("Write on transactional ID %q", id), Err: err}
}

// UncheckedError says a grant could not be checked (the coordinator did not
// answer in time, say); callers may log it and go on.
type UncheckedError struct {
	What string
	Err  error
}

func (e *UncheckedError) Error() string { return fmt.Sprintf("could not check %s: %v", e.What, e.Err) }
func (e *UncheckedError) Unwrap() error { return e.Err }

// retry repeats fn while it fails with a retriable broker error (a
// coordinator still loading, say) and ctx allows.
func retry(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil || !kerr.IsRetriable(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}
