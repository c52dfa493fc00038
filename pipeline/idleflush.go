package pipeline

import (
	"github.com/eqlstream/eqlstream/partition"
	"github.com/eqlstream/eqlstream/rules/engine"
)

// flushIdle releases a quiet partition's reorder buffer inside the open
// transaction. The flush is the pipeline's one wall-clock decision, so it is
// recorded in the partition's meta record (partition.Processor.FlushIdle):
// an offline replay with the committed flush points gives the same alerts
// and state. The negative control UnsafeFlushUnrecorded flushes without
// recording, which the chaos checker must catch.
func (c *Config) flushIdle(proc *partition.Processor) []engine.Match {
	if c.UnsafeFlushUnrecorded {
		return proc.UnsafeFlushIdleUnrecorded()
	}
	return proc.FlushIdle()
}
