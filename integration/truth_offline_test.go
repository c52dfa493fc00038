package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The ground truth helper itself, without Kafka: `processor gen` with
// genArgs and internal/gen with the settings injectedChains uses are the
// same stream (so the truth describes the events the tests produce), and
// processor eval's alerts over it equal the injected chains.
func TestInjectedChainsDescribeGenArgs(t *testing.T) {
	dir := t.TempDir()
	path, _ := genEvents(t, dir, "e.ndjson", false, genArgs("303", 8000)...)
	out := runTool(t, time.Minute, "eval", "--quiet", path)
	var recs []*kgo.Record
	for _, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		recs = append(recs, &kgo.Record{Value: l})
	}
	want := injectedChains(t, "303", 8000)
	if len(want) == 0 {
		t.Fatal("no chains injected")
	}
	checkGroundTruth(t, want, alertChains(t, recs))
	if _, err := os.Stat(filepath.Join(dir, "e.ndjson")); err != nil {
		t.Fatal(err)
	}
}
