// Package pipeline is eqlstream's exactly-once Kafka consume-transform-produce
// loop: it consumes ECS events from input topics in a consumer group,
// evaluates the rules per partition, and commits alerts, dead letters, rule
// state and consumed offsets in one Kafka transaction. Per-partition state is
// restored from the compacted state topic before a partition is processed.
package pipeline

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/eqlstream/eqlstream/rules"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Config is the pipeline's configuration; cmd fills it from flags and the
// environment.
type Config struct {
	Brokers        []string
	InputTopics    []string
	AlertsTopic    string
	DLQTopic       string
	StateTopic     string // default "<group>-state"
	Group          string
	InstanceID     string // gives the stable transactional ID
	CommitInterval time.Duration
	// IdleFlush releases a quiet partition's buffered events after this
	// long without new events (0: 2s; negative: never).
	IdleFlush          time.Duration
	MaxBatchRecords    int
	MaxEventBytes      int
	TransactionTimeout time.Duration
	// SessionTimeout is the group session timeout: how long a dead
	// instance's partitions wait before they move (default 10s).
	SessionTimeout time.Duration
	// BrokerBound: the instance is not ready when no broker round trip
	// has succeeded for this long (default 10s).
	BrokerBound time.Duration
	// WedgedBound: the instance is not live when work is pending and no
	// transaction has ended for this long (default 4×TransactionTimeout
	// + 30s: longer than a transaction end may take, 2×TransactionTimeout).
	WedgedBound time.Duration
	// UnknownTopicBound: a topic answering UNKNOWN_TOPIC_OR_PARTITION for
	// this long was deleted; the instance stops (default 10s).
	UnknownTopicBound time.Duration
	CreateTopics      bool
	Partitions        int32
	ReplicationFactor int16
	TLS               *tls.Config
	SASL              sasl.Mechanism
	// RequireKeyMatch: events whose record key is not their host.id are
	// counted and logged (always); this has no other effect today.
	HostField string // default "host.id"
	// LiveRules, when set, gives the rule set to run; a new one applies to
	// every partition between two transactions (see rulesync.go).
	LiveRules interface{ Current() *rules.RuleSet }
	// RulesTopic names the rules topic LiveRules follows, for the startup
	// ACL check ("" for none); the pipeline does not read it.
	RulesTopic string
	// Unsafe test modes for negative controls of the exactly-once checker.
	// Never use them in production.
	UnsafeKeepStateOnAbort bool // do not roll state back on abort
	UnsafeAtLeastOnce      bool // no transactions: produce, then commit offsets
	UnsafeFlushUnrecorded  bool // idle flushes are not recorded in the meta record
}

// Validate fills defaults and checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers (--brokers)"))
	}
	if len(c.InputTopics) == 0 {
		errs = append(errs, errors.New("no input topic (--input-topic)"))
	}
	if c.AlertsTopic == "" {
		errs = append(errs, errors.New("no alerts topic (--alerts-topic)"))
	}
	if c.DLQTopic == "" {
		errs = append(errs, errors.New("no dead-letter topic (--dlq-topic)"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("no consumer group (--group)"))
	}
	if c.InstanceID == "" {
		errs = append(errs, errors.New("no instance id (--instance-id): it must be stable per instance and unique among live ones"))
	}
	if c.StateTopic == "" {
		c.StateTopic = c.Group + "-state"
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = 100 * time.Millisecond
	}
	if c.IdleFlush == 0 {
		c.IdleFlush = 2 * time.Second
	}
	if c.MaxBatchRecords <= 0 {
		c.MaxBatchRecords = 5000
	}
	if c.MaxEventBytes <= 0 {
		c.MaxEventBytes = 1 << 20
	}
	if c.TransactionTimeout <= 0 {
		c.TransactionTimeout = 10 * time.Second
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.BrokerBound <= 0 {
		c.BrokerBound = 10 * time.Second
	}
	if c.WedgedBound <= 0 {
		c.WedgedBound = 4*c.TransactionTimeout + 30*time.Second
	}
	if c.UnknownTopicBound <= 0 {
		c.UnknownTopicBound = 10 * time.Second
	}
	if c.Partitions <= 0 {
		c.Partitions = 6
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = 1
	}
	if c.HostField == "" {
		c.HostField = "host.id"
	}
	for _, t := range c.InputTopics {
		if t == c.AlertsTopic || t == c.DLQTopic || t == c.StateTopic {
			errs = append(errs, fmt.Errorf("topic %q is used both as input and output", t))
		}
	}
	if n := btoi(c.UnsafeAtLeastOnce) + btoi(c.UnsafeKeepStateOnAbort) + btoi(c.UnsafeFlushUnrecorded); n > 1 {
		errs = append(errs, errors.New("choose one unsafe mode"))
	}
	return errors.Join(errs...)
}

// TransactionalID is the producer's transactional ID: stable per instance, so
// a restarted instance fences its predecessor at once.
func (c *Config) TransactionalID() string { return "eqlstream-" + c.Group + "-" + c.InstanceID }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
