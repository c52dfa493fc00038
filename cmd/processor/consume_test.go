package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/eqlstream/eqlstream/sinks"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produce --create-topics creates a missing topic; consume reads what is on
// a topic: events raw, alerts as one line each, dead letters with their
// reason and source, and a count.
func TestProduceCreatesTopicAndConsumeReadsIt(t *testing.T) {
	clearKafkaEnv(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	in := `{"host":{"id":"a"},"n":1}` + "\n" + `{"host":{"id":"b"},"n":2}` + "\n" + `{"host":{"id":"c"},"n":3}` + "\n"
	var errb bytes.Buffer
	if code := cmdProduce([]string{"--brokers", addr, "--topic", "events", "--create-topics", "--partitions", "3"}, strings.NewReader(in), &errb); code != exitOK {
		t.Fatalf("produce: exit %d\n%s", code, errb.String())
	}
	for _, want := range []string{"produce: created topic events (3 partitions, replication factor 1)\n", "produce: 3 records to events\n"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("produce stderr lacks %q:\n%s", want, errb.String())
		}
	}
	var out bytes.Buffer
	errb.Reset()
	if code := cmdConsume([]string{"--brokers", addr, "--topic", "events", "--from-beginning", "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("consume: exit %d\n%s", code, errb.String())
	}
	if got := strings.Count(out.String(), "\n"); got != 3 || !strings.Contains(out.String(), `{"host":{"id":"b"},"n":2}`) {
		t.Errorf("consume --json printed:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), "consume: 3 records from events\n") {
		t.Errorf("consume stderr: %s", errb.String())
	}

	// alerts and a dead letter on the alerts topic
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := ensureTopic(context.Background(), cl, "alerts", 1, 1, &errb); err != nil {
		t.Fatal(err)
	}
	alert := []byte(`{"kibana.alert.uuid":"0123456789abcdef","kibana.alert.rule.name":"Unusual DPKG Execution","kibana.alert.severity":"low","kibana.alert.original_time":"2026-01-01T00:00:01.000Z","host":{"name":"web-1","id":"h1"}}`)
	src := &kgo.Record{Topic: "events", Partition: 2, Offset: 41, Key: []byte("h9"), Value: []byte("{not json")}
	res := cl.ProduceSync(context.Background(),
		sinks.AlertRecord("alerts", []byte("h1"), alert, "rule-1", "0123456789abcdef"),
		sinks.DeadLetterRecord("alerts", src, "malformed_json", "invalid character 'n'"))
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := cmdConsume([]string{"--brokers", addr, "--topic", "alerts", "--from-beginning"}, &out, &errb); code != exitOK {
		t.Fatalf("consume alerts: exit %d\n%s", code, errb.String())
	}
	if !regexp.MustCompile(`(?m)^ALERT 0123456789abcdef  low     Unusual DPKG Execution\s+host=web-1  event_time=2026-01-01T00:00:01.000Z$`).MatchString(out.String()) {
		t.Errorf("no ALERT line:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "DEAD   malformed_json  from events/2@41: invalid character 'n'\n") {
		t.Errorf("no DEAD line:\n%s", out.String())
	}
	// nothing to read without a start or --follow is a usage error
	if code := cmdConsume([]string{"--brokers", addr}, &out, &errb); code != exitUsage {
		t.Errorf("consume without --from-beginning or --follow: exit %d", code)
	}
}
