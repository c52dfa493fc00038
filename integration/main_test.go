package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/eqlstream/eqlstream/internal/kafkatest"
)

// processorBin is the processor binary built by TestMain; buildErr is set
// when the build failed (every test then fails with it).
var (
	processorBin string
	buildErr     error
)

// TestMain builds cmd/processor once for every test and benchmark, and stops
// the Kafka that kafkaBrokers started (see internal/kafkatest) at the end. With
// EQLSTREAM_IT_PROCESSOR_RACE=1 the binary is built with -race too, so a data
// race inside the pipeline makes the processor exit 66 and the test fail.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eqlstream-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	processorBin = filepath.Join(dir, "processor")
	args := []string{"build", "-o", processorBin}
	if os.Getenv("EQLSTREAM_IT_PROCESSOR_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "github.com/eqlstream/eqlstream/cmd/processor")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("go %v: %w\n%s", args, err, out)
	}
	code := m.Run()
	kafkatest.Stop() // the container or kafka-local.sh node the tests started, if any
	os.RemoveAll(dir)
	os.Exit(code)
}
