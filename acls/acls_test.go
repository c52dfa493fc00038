package acls

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

var defaultConfig = Config{InputTopics: []string{"ecs-events"}, AlertsTopic: "eqlstream-alerts", DLQTopic: "eqlstream-dlq",
	StateTopic: "eqlstream-state", Group: "eqlstream", TransactionalID: "eqlstream-eqlstream-node-1"}

func short(bs []Binding) []string {
	var out []string
	for _, b := range bs {
		out = append(out, fmt.Sprintf("%s %s %s %s", b.Resource, b.Pattern, b.Name, b.Operation))
	}
	return out
}

// The expected grants are the table in shared/notes/secure-kafka.md, found
// one grant at a time on a StandardAuthorizer broker.
func TestRequiredMatchesTheMeasuredTable(t *testing.T) {
	want := []string{
		"Topic LITERAL ecs-events Read",
		"Topic LITERAL eqlstream-alerts Write",
		"Topic LITERAL eqlstream-dlq Write",
		"Topic LITERAL eqlstream-state Write",
		"Topic LITERAL eqlstream-state Read",
		"Topic LITERAL eqlstream-state DescribeConfigs",
		"Group LITERAL eqlstream Read",
		"TransactionalId LITERAL eqlstream-eqlstream-node-1 Write",
	}
	if got := short(Required(defaultConfig)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, b := range Required(defaultConfig) {
		if b.Resource == Cluster {
			t.Errorf("a cluster grant is required: %v (IdempotentWrite was not needed)", b)
		}
		if b.Why == "" {
			t.Errorf("%v has no reason", b)
		}
	}
}

func TestRequiredPrefixAndCreate(t *testing.T) {
	c := defaultConfig
	c.InputTopics = []string{"a", "b"}
	c.TransactionalIDPrefix = "eqlstream-eqlstream-"
	c.CreateTopics = true
	got := short(Required(c))
	for _, w := range []string{"Topic LITERAL a Read", "Topic LITERAL b Read", "TransactionalId PREFIXED eqlstream-eqlstream- Write",
		"Topic LITERAL a Create", "Topic LITERAL b Create", "Topic LITERAL eqlstream-alerts Create", "Topic LITERAL eqlstream-dlq Create", "Topic LITERAL eqlstream-state Create"} {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing %q in\n%s", w, strings.Join(got, "\n"))
		}
	}
	if strings.Contains(strings.Join(got, "\n"), "TransactionalId LITERAL") {
		t.Errorf("a literal transactional ID binding next to the prefix:\n%s", strings.Join(got, "\n"))
	}
}

func TestCommands(t *testing.T) {
	c := defaultConfig
	c.TransactionalID, c.TransactionalIDPrefix = "", "eqlstream-eqlstream-"
	got := Commands(Required(c), "User:eqlstream", "", "kafka:9093", "admin.properties")
	want := []string{
		"kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Read --topic ecs-events",
		"kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Write --topic eqlstream-alerts",
		"kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Write --topic eqlstream-dlq",
		"kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Write --operation Read --operation DescribeConfigs --topic eqlstream-state",
		"kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Read --group eqlstream",
		"kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Write --transactional-id eqlstream-eqlstream- --resource-pattern-type prefixed",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if q := shellQuote("CN=app, O=Soc's"); q != `'CN=app, O=Soc'\''s'` {
		t.Errorf("quote: %s", q)
	}
}

func TestTable(t *testing.T) {
	tab := Table(Required(defaultConfig), "User:eqlstream")
	lines := strings.Split(strings.TrimSuffix(tab, "\n"), "\n")
	if len(lines) != 9 {
		t.Fatalf("%d lines, want header + 8:\n%s", len(lines), tab)
	}
	if !strings.HasPrefix(lines[0], "PRINCIPAL") || !strings.Contains(lines[0], "OPERATION") {
		t.Errorf("header %q", lines[0])
	}
	col := strings.Index(lines[0], "OPERATION")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "Read") && !strings.HasPrefix(l[col:], "Write") && !strings.HasPrefix(l[col:], "DescribeConfigs") {
			t.Errorf("operation column misaligned: %q", l)
		}
	}
}

// grant builds kfake ACLs for user app from the bindings.
func grant(bs []Binding) []kfake.ACL {
	res := map[string]kmsg.ACLResourceType{Topic: kmsg.ACLResourceTypeTopic, Group: kmsg.ACLResourceTypeGroup, TransactionalID: kmsg.ACLResourceTypeTransactionalId}
	var out []kfake.ACL
	for _, b := range bs {
		pat := kmsg.ACLResourcePatternTypeLiteral
		if b.Pattern == Prefixed {
			pat = kmsg.ACLResourcePatternTypePrefixed
		}
		out = append(out, kfake.ACL{Resource: res[b.Resource], Name: b.Name, Pattern: pat, Operation: opCodes[b.Operation], Allow: true})
	}
	return out
}

func appClient(t *testing.T, acls []kfake.ACL, topics ...string) *kgo.Client {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "admin", "admin-pw"), kfake.User("SCRAM-SHA-512", "app", "app-pw", acls...),
		kfake.SeedTopics(2, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(scram.Auth{User: "app", Pass: "app-pw"}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestCheckFindsEachMissingGrant(t *testing.T) {
	c := defaultConfig
	c.TransactionalID, c.TransactionalIDPrefix = "eqlstream-eqlstream-node-1", "eqlstream-eqlstream-"
	all := Required(c)
	topics := []string{"ecs-events", "eqlstream-alerts", "eqlstream-dlq", "eqlstream-state"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if err := Check(ctx, appClient(t, grant(all), topics...), all); err != nil {
		t.Fatalf("all grants given: %v", err)
	}
	for i, b := range all {
		t.Run(b.String(), func(t *testing.T) {
			rest := append(append([]Binding{}, all[:i]...), all[i+1:]...)
			err := Check(ctx, appClient(t, grant(rest), topics...), all)
			var me *MissingError
			if !errors.As(err, &me) {
				t.Fatalf("without %v: %v, want a MissingError", b, err)
			}
			if len(me.Findings) != 1 || me.Findings[0].Binding.Resource != b.Resource || me.Findings[0].Name != b.Name || me.Findings[0].Operation != b.Operation {
				t.Fatalf("without %v: %v", b, err)
			}
			t.Log(err)
			want := "not authorized to " + b.Operation + " "
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), b.Name) {
				t.Errorf("message %q does not name %q and %q", err, want, b.Name)
			}
		})
	}
}

// Describe without Read on the group or the transactional ID is not enough,
// whether or not the group exists.
func TestCheckDescribeIsNotRead(t *testing.T) {
	all := Required(defaultConfig)
	var weaker []Binding
	for _, b := range all {
		if b.Resource == Group || b.Resource == TransactionalID {
			b.Operation = Describe
		}
		weaker = append(weaker, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := Check(ctx, appClient(t, grant(weaker), "ecs-events", "eqlstream-alerts", "eqlstream-dlq", "eqlstream-state"), all)
	want := `not authorized to Read group "eqlstream" (`
	want2 := `not authorized to Write transactional ID "eqlstream-eqlstream-node-1" (TRANSACTIONAL_ID_AUTHORIZATION_FAILED`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), want2) {
		t.Fatalf("with Describe only: %v\nwant %q and %q", err, want, want2)
	}
	t.Log(err)
}

func TestCheckCreate(t *testing.T) {
	c := defaultConfig
	c.CreateTopics = true
	all := Required(c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// no topics exist: Create is needed on each
	if err := Check(ctx, appClient(t, grant(all)), all); err != nil {
		t.Fatalf("all grants given: %v", err)
	}
	var noCreate []Binding
	for _, b := range all {
		if b.Operation != Create || b.Name != "eqlstream-dlq" {
			noCreate = append(noCreate, b)
		}
	}
	err := Check(ctx, appClient(t, grant(noCreate)), all)
	if err == nil || !strings.Contains(err.Error(), `not authorized to Create topic "eqlstream-dlq"`) {
		t.Fatalf("without Create on the DLQ: %v", err)
	}
}

// TestRulesTopicRead: run with --rules-topic needs Read on it, and only then.
func TestRulesTopicRead(t *testing.T) {
	c := Config{InputTopics: []string{"in"}, AlertsTopic: "a", DLQTopic: "d", StateTopic: "s", Group: "g", TransactionalID: "x"}
	has := func(bs []Binding) bool {
		for _, b := range bs {
			if b.Resource == Topic && b.Name == "rules" && b.Operation == Read {
				return true
			}
		}
		return false
	}
	if has(Required(c)) {
		t.Fatal("Read on a rules topic without one")
	}
	c.RulesTopic = "rules"
	if !has(Required(c)) {
		t.Fatal("no Read on the rules topic")
	}
}
