// Package acls owns the Kafka permissions eqlstream needs: the model of the
// ACL bindings a configuration requires (printed by `processor acls`), their
// kafka-acls command lines and table, and the startup check that the
// connected principal holds them, so a missing grant fails at start naming
// the resource and the operation instead of at the first alert.
//
// The model follows Kafka's authorization of each API the pipeline calls
// (KIP-11 and the operations table of Kafka's authorization docs) and what a
// StandardAuthorizer broker with allow.everyone.if.no.acl.found=false
// required, found one grant at a time (shared/notes/secure-kafka.md):
//
//   - consume with read_committed (Fetch, ListOffsets): Read on the input
//     topics (Describe is implied by Read)
//   - join the group and commit offsets in the transaction (JoinGroup,
//     SyncGroup, OffsetFetch, AddOffsetsToTxn, TxnOffsetCommit): Read on the
//     group; TxnOffsetCommit also needs Read on the input topics
//   - transactions (InitProducerId, AddPartitionsToTxn, EndTxn): Write on the
//     transactional ID (Describe implied); Kafka 3+ needs no cluster
//     IdempotentWrite for transactional producers
//   - produce alerts, dead letters and state: Write on those topics
//   - restore state: Read on the state topic (a first deployment runs
//     without it, every restart needs it), DescribeConfigs to check that it
//     is compacted
//   - --create-topics: Create on the topics it may create
package acls

import (
	"fmt"
	"sort"
	"strings"
)

// Resource types as kafka-acls names them.
const (
	Topic           = "Topic"
	Group           = "Group"
	TransactionalID = "TransactionalId"
	Cluster         = "Cluster"
)

// Pattern types.
const (
	Literal  = "LITERAL"
	Prefixed = "PREFIXED"
)

// Operations.
const (
	Read            = "Read"
	Write           = "Write"
	Create          = "Create"
	Describe        = "Describe"
	DescribeConfigs = "DescribeConfigs"
)

// Binding is one ACL an instance needs: allow Principal to do Operation on
// the resource.
type Binding struct {
	Resource  string // Topic, Group, TransactionalId, Cluster
	Name      string // the name, or its prefix when Pattern is Prefixed
	Pattern   string // LITERAL or PREFIXED
	Operation string
	Why       string
	// Example is a concrete name a prefixed binding covers (the instance's
	// own transactional ID), used by Check.
	Example string
}

func (b Binding) String() string {
	name := fmt.Sprintf("%q", b.Name)
	if b.Pattern == Prefixed {
		name = fmt.Sprintf("prefixed %q", b.Name)
	}
	return fmt.Sprintf("%s %s %s", b.Operation, resourceWords[b.Resource], name)
}

var resourceWords = map[string]string{Topic: "topic", Group: "group", TransactionalID: "transactional ID", Cluster: "cluster"}

// Config is what decides the ACLs of one deployment.
type Config struct {
	InputTopics []string
	AlertsTopic string
	DLQTopic    string
	StateTopic  string
	// RulesTopic is run's --rules-topic ("" for none).
	RulesTopic string
	Group      string
	// TransactionalID is the instance's transactional ID; with
	// TransactionalIDPrefix set instead, one prefixed binding covers every
	// instance of the group.
	TransactionalID       string
	TransactionalIDPrefix string
	CreateTopics          bool
	// Principal (e.g. User:eqlstream) and Host (default *) for the printed
	// command lines.
	Principal string
	Host      string
}

// Required returns the bindings the configuration needs, in a stable order:
// topics (input, alerts, DLQ, state), group, transactional ID, creation.
func Required(c Config) []Binding {
	var bs []Binding
	add := func(res, name, pattern, op, why string) {
		bs = append(bs, Binding{Resource: res, Name: name, Pattern: pattern, Operation: op, Why: why})
	}
	for _, t := range c.InputTopics {
		add(Topic, t, Literal, Read, "consume events (read_committed Fetch, ListOffsets) and commit their offsets in the transaction")
	}
	add(Topic, c.AlertsTopic, Literal, Write, "produce alerts in the transaction")
	add(Topic, c.DLQTopic, Literal, Write, "produce dead letters in the transaction")
	add(Topic, c.StateTopic, Literal, Write, "produce rule state in the transaction")
	add(Topic, c.StateTopic, Literal, Read, "restore rule state on assignment (needed once state exists: every restart)")
	add(Topic, c.StateTopic, Literal, DescribeConfigs, "check that the state topic is compacted")
	if c.RulesTopic != "" {
		add(Topic, c.RulesTopic, Literal, Read, "read the rule set at startup and follow it (read_committed)")
	}
	add(Group, c.Group, Literal, Read, "join the consumer group, fetch and commit its offsets (TxnOffsetCommit)")
	if c.TransactionalIDPrefix != "" {
		bs = append(bs, Binding{Resource: TransactionalID, Name: c.TransactionalIDPrefix, Pattern: Prefixed, Operation: Write,
			Why: "transactions of every instance (InitProducerId, AddPartitionsToTxn, EndTxn; Describe implied)", Example: c.TransactionalID})
	} else {
		add(TransactionalID, c.TransactionalID, Literal, Write, "transactions (InitProducerId, AddPartitionsToTxn, EndTxn; Describe implied)")
	}
	if c.CreateTopics {
		seen := map[string]bool{}
		for _, t := range append(append([]string{}, c.InputTopics...), c.AlertsTopic, c.DLQTopic, c.StateTopic) {
			if !seen[t] {
				seen[t] = true
				add(Topic, t, Literal, Create, "--create-topics: create the topic if it is missing")
			}
		}
	}
	return bs
}

// ForProducer is what `processor produce` needs.
func ForProducer(topic string) []Binding {
	return []Binding{{Resource: Topic, Name: topic, Pattern: Literal, Operation: Write, Why: "produce events"}}
}

// Commands renders the bindings as kafka-acls.sh command lines, one per
// resource with all its operations.
func Commands(bs []Binding, principal, host, bootstrap, commandConfig string) []string {
	type key struct{ res, name, pattern string }
	var order []key
	ops := map[key][]string{}
	for _, b := range bs {
		k := key{b.Resource, b.Name, b.Pattern}
		if _, ok := ops[k]; !ok {
			order = append(order, k)
		}
		ops[k] = append(ops[k], b.Operation)
	}
	if host == "" {
		host = "*"
	}
	var out []string
	for _, k := range order {
		var sb strings.Builder
		fmt.Fprintf(&sb, "kafka-acls.sh --bootstrap-server %s", shellQuote(bootstrap))
		if commandConfig != "" {
			fmt.Fprintf(&sb, " --command-config %s", shellQuote(commandConfig))
		}
		fmt.Fprintf(&sb, " --add --allow-principal %s --allow-host %s", shellQuote(principal), shellQuote(host))
		for _, op := range ops[k] {
			fmt.Fprintf(&sb, " --operation %s", op)
		}
		switch k.res {
		case Topic:
			fmt.Fprintf(&sb, " --topic %s", shellQuote(k.name))
		case Group:
			fmt.Fprintf(&sb, " --group %s", shellQuote(k.name))
		case TransactionalID:
			fmt.Fprintf(&sb, " --transactional-id %s", shellQuote(k.name))
		case Cluster:
			sb.WriteString(" --cluster")
		}
		if k.pattern == Prefixed {
			sb.WriteString(" --resource-pattern-type prefixed")
		}
		out = append(out, sb.String())
	}
	return out
}

// Table renders the bindings as aligned columns with a header.
func Table(bs []Binding, principal string) string {
	rows := [][]string{{"PRINCIPAL", "RESOURCE", "PATTERN", "NAME", "OPERATION", "WHY"}}
	for _, b := range bs {
		rows = append(rows, []string{principal, b.Resource, b.Pattern, b.Name, b.Operation, b.Why})
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var sb strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i == len(r)-1 {
				sb.WriteString(c)
				break
			}
			sb.WriteString(c)
			sb.WriteString(strings.Repeat(" ", width[i]-len(c)+2))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:/=@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sortedUnique is a helper for deterministic topic lists.
func sortedUnique(ss []string) []string {
	m := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
