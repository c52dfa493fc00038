package acls

import (
	"os"
	"testing"

	"github.com/eqlstream/eqlstream/internal/kafkatest"
)

// TestMain stops the Kafka the real-broker test started (internal/kafkatest).
func TestMain(m *testing.M) {
	code := m.Run()
	kafkatest.Stop()
	os.Exit(code)
}
