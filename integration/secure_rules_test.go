package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestSecureRulesTopic: rules published and followed over SASL_SSL with
// the documented grants only. The publisher (SCRAM-SHA-256) needs Write and
// Create on the rules topic, Read to diff against it, and Write on its
// transactional ID; the processor (SCRAM-SHA-512) needs Read on it as well
// as its usual grants, and the startup check names the topic when that
// grant is missing. The alerts equal processor eval.
func TestSecureRulesTopic(t *testing.T) {
	sc := secureKafka(t)
	e := newSecureEnv(t, sc)
	n := e.names
	rulesTopic := n.Group + "-rules"
	secrets := sc.secrets(t)
	events, _ := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("303", 6000)...)
	want := evalAlerts(t, events)
	if len(want) == 0 {
		t.Fatal("processor eval found no alerts: nothing to compare")
	}
	e.createAll(n)
	e.allow(grant{"User:producer", "topic", n.Input, kadm.OpWrite},
		grant{"User:producer", "topic", rulesTopic, kadm.OpWrite},
		grant{"User:producer", "topic", rulesTopic, kadm.OpCreate},
		grant{"User:producer", "topic", rulesTopic, kadm.OpRead},
		grant{"User:producer", "txn", "eqlstream-rules-" + rulesTopic, kadm.OpWrite},
		grant{"User:reader", "topic", n.Alerts, kadm.OpRead})

	code, took, out := runBounded(t, 2*time.Minute, append(append([]string{"rules", "push"}, sc.saslFlags("producer", "SCRAM-SHA-256")...),
		"--topic", rulesTopic, "--builtin")...)
	checkNoSecrets(t, "rules push output", out, secrets)
	if code != 0 || !strings.Contains(out, "rules push: 4 added") {
		t.Fatalf("rules push over SASL_SSL as producer: exit %d after %s:\n%s", code, took, lastLines(out, 20))
	}
	code, _, out = runBounded(t, time.Minute, append(append([]string{"rules", "list"}, sc.saslFlags("producer", "SCRAM-SHA-256")...),
		"--rules-topic", rulesTopic)...)
	if code != 0 || !strings.Contains(out, "4 records, 4 rules compile, 0 errors") {
		t.Fatalf("rules list: exit %d:\n%s", code, lastLines(out, 10))
	}
	if code, _, out := runBounded(t, 2*time.Minute, append(append([]string{"produce"}, sc.saslFlags("producer", "SCRAM-SHA-256")...),
		"--topic", n.Input, events)...); code != 0 {
		t.Fatalf("produce: exit %d:\n%s", code, lastLines(out, 10))
	}

	// without Read on the rules topic: stopped at startup, naming it
	const instance = "sec-rules"
	e.allow(processorGrants("User:processor", n, instance)...)
	p := e.startProcessor("processor-no-read", secureRunArgs(n, instance, sc.saslFlags("processor", "SCRAM-SHA-512"), "--rules-topic", rulesTopic)...)
	if code, took := waitExit(t, p, failBound); code != 1 || !strings.Contains(p.log(), rulesTopic) || !authzRe.MatchString(p.log()) {
		t.Fatalf("processor without Read on the rules topic: exit %d after %s, want 1 naming %s and an authorization failure:\n%s", code, took, rulesTopic, lastLines(p.log(), 5))
	}

	e.allow(grant{"User:processor", "topic", rulesTopic, kadm.OpRead})
	p = e.startProcessor("processor", secureRunArgs(n, instance, sc.saslFlags("processor", "SCRAM-SHA-512"), append([]string{"--rules-topic", rulesTopic}, faultArgs...)...)...)
	e.waitCaughtUp(n, 3*time.Minute, p)
	e.waitQuiet(3*time.Second, time.Minute, p, n.Alerts, n.State)
	reader := e.as(sc.saslOpts(t, "reader", "SCRAM-SHA-256"))
	got := topicAlerts(t, reader.readCommitted(n.Alerts, time.Minute))
	checkExactlyOnce(t, want, got)
	if code, took := p.terminate(sigtermBound); code != 0 {
		t.Errorf("processor exited with code %d after SIGTERM (in %s), want 0", code, took)
	}
	checkNoSecrets(t, "the processor's log (debug)", p.log(), secrets)
}
