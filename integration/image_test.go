//go:build containers

// The processor image (deployments/Dockerfile) run as a container: built
// with `-tags containers`, these tests need EQLSTREAM_PROCESSOR_IMAGE (the
// image to run) and a container engine; .ci/containers.sh builds the image
// and runs them. Without the tag they are not compiled, so `make test` does
// not need the image.

package integration

import (
	"bufio"
	"context"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/kafkatest"
	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

func processorImage(t *testing.T) string {
	t.Helper()
	img := os.Getenv("EQLSTREAM_PROCESSOR_IMAGE")
	if img == "" {
		t.Fatal("EQLSTREAM_PROCESSOR_IMAGE is required with -tags containers (.ci/containers.sh builds it from deployments/Dockerfile)")
	}
	return img
}

// runProcessorContainer starts the image with cmd on the host's network (so
// it reaches the brokers at the address the tests use, whatever started
// them) and returns it; it is removed when the test ends, its log printed
// when the test failed.
func runProcessorContainer(t *testing.T, wf wait.Strategy, cmd ...string) testcontainers.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:              processorImage(t),
			Cmd:                cmd,
			Labels:             map[string]string{kafkatest.Label: "processor"},
			HostConfigModifier: func(hc *container.HostConfig) { hc.NetworkMode = "host" },
			WaitingFor:         wf,
		},
		Started: true,
	})
	t.Cleanup(func() {
		if c == nil {
			return
		}
		if t.Failed() {
			// Kept for inspection, like the topics of a failed test.
			if f, err := os.CreateTemp("", "eqlstream-processor-container-*.log"); err == nil {
				f.WriteString(containerLog(c))
				f.Close()
				t.Logf("processor container log (%s), last lines:\n%s", f.Name(), tail(f.Name(), 40))
			}
		}
		if err := testcontainers.TerminateContainer(c, testcontainers.StopTimeout(sigtermBound)); err != nil {
			t.Errorf("removing the processor container: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", processorImage(t), err)
	}
	t.Logf("processor container %.12s (%s) started: %s", c.GetContainerID(), processorImage(t), strings.Join(cmd, " "))
	return c
}

func containerLog(c testcontainers.Container) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.Logs(ctx)
	if err != nil {
		return "logs: " + err.Error()
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

var alertLine = regexp.MustCompile(`^ALERT ([0-9a-f]{16}) `)

// alertIDs are the IDs of the ALERT lines of `processor run --embedded`.
func alertIDs(out string) []string {
	var ids []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m := alertLine.FindStringSubmatch(sc.Text()); m != nil {
			ids = append(ids, m[1])
		}
	}
	slices.Sort(ids)
	return ids
}

// TestProcessorImageEmbedded: the image runs the embedded demo and prints
// the alerts the processor built from the tree prints (the demo is
// deterministic: same IDs), then exits 0.
func TestProcessorImageEmbedded(t *testing.T) {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	c := runProcessorContainer(t, wait.ForExit().WithExitTimeout(3*time.Minute), "run", "--embedded")
	st, err := c.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode != 0 {
		t.Fatalf("processor run --embedded in the container exited %d", st.ExitCode)
	}
	got := alertIDs(containerLog(c))
	want := alertIDs(string(runTool(t, 3*time.Minute, "run", "--embedded", "--metrics-addr", "127.0.0.1:0")))
	if len(want) == 0 {
		t.Fatal("the host's processor run --embedded printed no alerts")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the container printed %d alerts, the host's processor %d; they differ", len(got), len(want))
	}
	t.Logf("container: %d alerts, the same IDs as the processor built from the tree", len(got))
}

// TestProcessorImageAgainstKafka: a processor container consumes a
// generated stream from the tests' Kafka (a Kafka container when
// KAFKA_BROKERS is unset) and its committed alerts equal `processor eval`
// of the same events, exactly once; SIGTERM stops it with exit 0.
func TestProcessorImageAgainstKafka(t *testing.T) {
	e := newEnv(t)
	n := e.names
	events, total := genEvents(t, t.TempDir(), "events.ndjson", true, genArgs("113", 12000)...)
	want := evalAlerts(t, events)
	if len(want) == 0 {
		t.Fatal("processor eval found no alerts: the generator settings leave nothing to compare")
	}
	e.createTopic(n.Input, partitions)
	e.produceFile(events, n.Input)

	c := runProcessorContainer(t, nil, e.runArgs(n, "it-image", faultArgs...)...)
	t0 := time.Now()
	e.waitCaughtUp(n, 3*time.Minute)
	t.Logf("%d events processed by the container: committed offsets reached the input end after %s", total, time.Since(t0).Round(time.Millisecond))

	got := topicAlerts(t, e.readCommitted(n.Alerts, time.Minute))
	checkExactlyOnce(t, want, got)
	checkPerHostOrder(t, want, got)

	timeout := sigtermBound
	if err := c.Stop(context.Background(), &timeout); err != nil {
		t.Fatalf("stopping the processor container: %v", err)
	}
	st, err := c.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode != 0 {
		t.Errorf("the processor container exited %d after SIGTERM, want 0", st.ExitCode)
	}
}
