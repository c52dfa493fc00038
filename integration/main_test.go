package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// processorBin is the processor binary built by TestMain; buildErr is set
// when the build failed (every test then fails with it).
var (
	processorBin string
	buildErr     error
)

// TestMain builds cmd/processor once for every test and benchmark. With
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
	os.RemoveAll(dir)
	os.Exit(code)
}
