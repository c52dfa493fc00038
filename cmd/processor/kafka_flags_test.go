package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clearKafkaEnv keeps the caller's EQLSTREAM_* connection settings out of
// the tests.
func clearKafkaEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "EQLSTREAM_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

func tempFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Half a connection configuration is a usage error (exit 2) that says what
// is missing, for every command that talks to Kafka, before any connection.
func TestKafkaFlagUsageErrors(t *testing.T) {
	clearKafkaEnv(t)
	pw := tempFile(t, "pw", "secret-in-file\n")
	notPEM := tempFile(t, "ca.pem", "no certificate here")
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no brokers", nil, nil, "no brokers: set --brokers"},
		{"key without cert", []string{"--tls-key", pw}, nil, "--tls-key needs --tls-cert: the client certificate for mTLS is missing"},
		{"cert without key", []string{"--tls-cert", pw}, nil, "--tls-cert needs --tls-key: the private key of the client certificate is missing"},
		{"username without mechanism", []string{"--sasl-username", "alice", "--sasl-password-file", pw}, nil,
			"a SASL username or password is set but no --sasl-mechanism: choose one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
		{"mechanism without username", []string{"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-password-file", pw}, nil,
			"--sasl-mechanism SCRAM-SHA-512 needs --sasl-username"},
		{"mechanism without password", []string{"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "alice"}, nil,
			"--sasl-mechanism SCRAM-SHA-256 needs a password: --sasl-password-file FILE (or EQLSTREAM_SASL_PASSWORD)"},
		{"password flag and file", []string{"--sasl-mechanism", "PLAIN", "--sasl-username", "a", "--sasl-password", "x", "--sasl-password-file", pw}, nil,
			"both --sasl-password and --sasl-password-file are set"},
		{"password env and file", []string{"--sasl-mechanism", "PLAIN", "--sasl-username", "a", "--sasl-password-file", pw},
			map[string]string{"EQLSTREAM_SASL_PASSWORD": "x"}, "both --sasl-password and --sasl-password-file are set (perhaps EQLSTREAM_SASL_PASSWORD)"},
		{"unreadable password file", []string{"--sasl-mechanism", "PLAIN", "--sasl-username", "a", "--sasl-password-file", filepath.Join(dir, "nope")}, nil,
			"--sasl-password-file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{"unknown mechanism", []string{"--sasl-mechanism", "OAUTHBEARER", "--sasl-username", "a", "--sasl-password-file", pw}, nil,
			`unknown --sasl-mechanism "OAUTHBEARER": allowed values are PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{"CA without certificates", []string{"--tls", "--tls-ca", notPEM}, nil, "--tls-ca " + notPEM + ": no PEM certificates in the file"},
		{"env mechanism without username", nil, map[string]string{"EQLSTREAM_SASL_MECHANISM": "PLAIN", "EQLSTREAM_SASL_PASSWORD": "x"},
			"--sasl-mechanism PLAIN needs --sasl-username"},
		{"bad env duration", nil, map[string]string{"EQLSTREAM_CONNECT_TIMEOUT": "soon"}, `EQLSTREAM_CONNECT_TIMEOUT="soon": want a duration`},
	}
	for _, tc := range cases {
		for _, command := range []string{"run", "produce", "acls --check"} {
			t.Run(command+"/"+tc.name, func(t *testing.T) {
				for k, v := range tc.env {
					t.Setenv(k, v)
				}
				args := tc.args
				if tc.name != "no brokers" && tc.env["EQLSTREAM_BROKERS"] == "" {
					args = append([]string{"--brokers", "127.0.0.1:1"}, args...)
				}
				var out, errb bytes.Buffer
				var code int
				start := time.Now()
				switch command {
				case "run":
					code = cmdRun(args, &out, &errb)
				case "produce":
					code = cmdProduce(append(args, "--topic", "t"), strings.NewReader(""), &errb)
				default:
					code = cmdACLs(append(args, "--check"), &out, &errb)
				}
				if code != exitUsage {
					t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, errb.String())
				}
				if !strings.Contains(errb.String(), tc.want) {
					t.Errorf("stderr does not say %q:\n%s", tc.want, errb.String())
				}
				if strings.Contains(errb.String(), "secret-in-file") {
					t.Errorf("stderr shows the password")
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("a usage error took %v", d)
				}
			})
		}
	}
}

func TestProduceNeedsATopic(t *testing.T) {
	clearKafkaEnv(t)
	var errb bytes.Buffer
	if code := cmdProduce([]string{"--brokers", "127.0.0.1:1"}, strings.NewReader(""), &errb); code != exitUsage {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "no topic: set --topic (or EQLSTREAM_INPUT_TOPIC)") {
		t.Errorf("stderr: %s", errb.String())
	}
}

func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Nothing listening: produce and run fail within --connect-timeout, say
// why, and warn about a password given as an argument.
func TestConnectFailsWithinTheBound(t *testing.T) {
	clearKafkaEnv(t)
	addr := closedAddr(t)
	args := []string{"--brokers", addr, "--connect-timeout", "700ms", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", "u", "--sasl-password", "pw-on-the-command-line"}
	for _, command := range []string{"run", "produce"} {
		t.Run(command, func(t *testing.T) {
			var out, errb bytes.Buffer
			start := time.Now()
			var code int
			if command == "run" {
				code = cmdRun(append(args, "--metrics-addr", ""), &out, &errb)
			} else {
				code = cmdProduce(append(args, "--topic", "t"), strings.NewReader(`{"host":{"id":"h"}}`+"\n"), &errb)
			}
			took := time.Since(start)
			if code != exitFailure {
				t.Errorf("exit %d, want 1", code)
			}
			if took > 3*time.Second {
				t.Errorf("took %v with --connect-timeout 700ms", took)
			}
			s := errb.String()
			for _, want := range []string{
				"--sasl-password on the command line can be read by other users of this machine",
				"cannot connect to Kafka (" + addr + " plaintext, SASL SCRAM-SHA-512 as u)",
				"no usable answer within 700ms (--connect-timeout); last: nothing is listening there",
			} {
				if !strings.Contains(s, want) {
					t.Errorf("stderr does not say %q:\n%s", want, s)
				}
			}
			if strings.Contains(s, "pw-on-the-command-line") {
				t.Errorf("password in stderr")
			}
		})
	}
}

// The environment's password is not "on the command line": no warning.
func TestPasswordFromEnvDoesNotWarn(t *testing.T) {
	clearKafkaEnv(t)
	t.Setenv("EQLSTREAM_SASL_PASSWORD", "from-env")
	var errb bytes.Buffer
	code := cmdProduce([]string{"--brokers", closedAddr(t), "--connect-timeout", "200ms", "--topic", "t",
		"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "u"}, strings.NewReader(""), &errb)
	if code != exitFailure {
		t.Errorf("exit %d, want 1 (nothing listening)", code)
	}
	if strings.Contains(errb.String(), "--sasl-password on the command line") {
		t.Errorf("warned about the environment's password:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), "SASL SCRAM-SHA-256 as u") {
		t.Errorf("the environment's password was not used:\n%s", errb.String())
	}
}

func TestProduceReportsWhatItProduced(t *testing.T) {
	clearKafkaEnv(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "events"), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "admin", "pw-from-file"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pw := tempFile(t, "pw", "pw-from-file\n")
	in := `{"host":{"id":"a"},"x":1}` + "\n\n" + `{"host.id":"b"}` + "\n" + `{"no":"host"}` + "\n"
	var errb bytes.Buffer
	code := cmdProduce([]string{"--brokers", c.ListenAddrs()[0], "--topic", "events", "--log-level", "debug",
		"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", "admin", "--sasl-password-file", pw}, strings.NewReader(in), &errb)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "produce: 3 records to events\n") {
		t.Errorf("no report of 3 records:\n%s", errb.String())
	}
	if strings.Contains(errb.String(), "pw-from-file") {
		t.Errorf("password in the debug output")
	}
	if !strings.Contains(errb.String(), "component=kafka") {
		t.Errorf("the client's debug log is missing:\n%.1000s", errb.String())
	}
}

func TestProduceWithoutWriteFailsAtStart(t *testing.T) {
	clearKafkaEnv(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "a"), kfake.User("PLAIN", "reader", "r"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("EQLSTREAM_SASL_PASSWORD", "r")
	var errb bytes.Buffer
	start := time.Now()
	code := cmdProduce([]string{"--brokers", c.ListenAddrs()[0], "--topic", "events", "--sasl-mechanism", "PLAIN", "--sasl-username", "reader"},
		strings.NewReader(`{"host":{"id":"a"}}`+"\n"), &errb)
	if code != exitFailure || time.Since(start) > 5*time.Second {
		t.Fatalf("exit %d after %v:\n%s", code, time.Since(start), errb.String())
	}
	for _, want := range []string{"SASL PLAIN without TLS sends the password in clear text", `not authorized to Write topic "events"`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, errb.String())
		}
	}
}

func TestACLsDefaultOutput(t *testing.T) {
	clearKafkaEnv(t)
	var out, errb bytes.Buffer
	if code := cmdACLs([]string{"--format", "commands", "--bootstrap-server", "kafka:9093"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := `kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Read --topic ecs-events
kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Write --topic eqlstream-alerts
kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Write --topic eqlstream-dlq
kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Write --operation Read --operation DescribeConfigs --topic eqlstream-state
kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Read --group eqlstream
kafka-acls.sh --bootstrap-server kafka:9093 --command-config admin.properties --add --allow-principal User:eqlstream --allow-host '*' --operation Write --transactional-id eqlstream-eqlstream- --resource-pattern-type prefixed
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	t.Setenv("EQLSTREAM_SASL_USERNAME", "svc")
	t.Setenv("EQLSTREAM_GROUP", "soc")
	if code := cmdACLs([]string{"--instance-id", "n1", "--create-topics"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	rows := map[string]bool{}
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 5 {
			rows[strings.Join(f[:5], " ")] = true
		}
	}
	for _, w := range []string{"User:svc Group LITERAL soc Read", "User:svc Topic LITERAL soc-state Read",
		"User:svc TransactionalId LITERAL eqlstream-soc-n1 Write", "User:svc Topic LITERAL soc-state Create"} {
		if !rows[w] {
			t.Errorf("table lacks %q:\n%s", w, out.String())
		}
	}
	for _, bad := range [][]string{{"--format", "yaml"}, {"--instance-id", "a", "--transactional-id-prefix", "p"}, {"--principal", "svc"}, {"extra"}} {
		errb.Reset()
		if code := cmdACLs(bad, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// A missing grant stops `run` at start, naming the resource and operation.
func TestRunFailsAtStartWithoutAGrant(t *testing.T) {
	clearKafkaEnv(t)
	acl := func(res kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "ecs-events", "eqlstream-alerts", "eqlstream-dlq", "eqlstream-state"),
		kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser("SCRAM-SHA-512", "admin", "a"),
		kfake.User("SCRAM-SHA-512", "app", "app-pw",
			acl(kmsg.ACLResourceTypeTopic, "ecs-events", kmsg.ACLOperationRead),
			acl(kmsg.ACLResourceTypeTopic, "eqlstream-dlq", kmsg.ACLOperationWrite),
			acl(kmsg.ACLResourceTypeTopic, "eqlstream-state", kmsg.ACLOperationWrite),
			acl(kmsg.ACLResourceTypeTopic, "eqlstream-state", kmsg.ACLOperationRead),
			acl(kmsg.ACLResourceTypeTopic, "eqlstream-state", kmsg.ACLOperationDescribeConfigs),
			acl(kmsg.ACLResourceTypeGroup, "eqlstream", kmsg.ACLOperationRead),
			acl(kmsg.ACLResourceTypeTransactionalId, "eqlstream-eqlstream-i1", kmsg.ACLOperationWrite)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pw := tempFile(t, "pw", "app-pw")
	var out, errb bytes.Buffer
	start := time.Now()
	code := cmdRun([]string{"--brokers", c.ListenAddrs()[0], "--instance-id", "i1", "--metrics-addr", "",
		"--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", "app", "--sasl-password-file", pw}, &out, &errb)
	if code != exitFailure || time.Since(start) > 10*time.Second {
		t.Fatalf("exit %d after %v, want 1 at once:\n%s", code, time.Since(start), errb.String())
	}
	want := `User:app lacks Kafka permissions: not authorized to Write topic \"eqlstream-alerts\" (TOPIC_AUTHORIZATION_FAILED`
	if !strings.Contains(errb.String(), want) {
		t.Errorf("stderr does not say %s:\n%s", want, errb.String())
	}
}
