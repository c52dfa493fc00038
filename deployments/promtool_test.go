package deployments

import (
	"os"
	"os/exec"
	"testing"
)

// TestPromtool validates the alerting rules with Prometheus's own checker
// and runs their unit tests (observability/prometheus-rules.test.yaml: when
// each alert fires, with which labels, and that it does not in the negative
// cases). promtool is not a Go module: where it is not installed (Debian:
// apt-get install prometheus) the test is skipped, and says so.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not installed and CI=true: .ci/run installs it (Debian package prometheus)")
		}
		t.Skip("promtool not installed (apt-get install prometheus): alerting rules not checked by Prometheus")
	}
	for _, args := range [][]string{
		{"check", "rules", "prometheus-rules.yaml"},
		{"test", "rules", "prometheus-rules.test.yaml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "observability"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		} else {
			t.Logf("promtool %v:\n%s", args, out)
		}
	}
}
