package partition

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/eqlstream/eqlstream/rules/engine"
)

// FlushIdle releases the engine's reorder buffer (engine.Engine.FlushIdle)
// and records the decision: the flush counter goes up and LastFlush becomes
// Next, the input offset at which it happened (every record before Next was
// processed before the flush, none after). Both go into the meta record of
// the transaction, so when it commits, the flush point is in the committed
// state; when it aborts, Aborted forgets the flush with the rest. Call it
// inside a transaction (after Begin). A flush with nothing buffered changes
// nothing and is not recorded.
func (p *Processor) FlushIdle() []engine.Match {
	if p.Engine.Stats().Buffered == 0 {
		return nil
	}
	ms := p.Engine.FlushIdle()
	p.Flushes++
	p.LastFlush = p.Next
	return ms
}

// UnsafeFlushIdleUnrecorded flushes like FlushIdle without recording the
// flush: a negative control for the exactly-once checker, whose offline
// replay then lacks a decision the online run made. Never in production.
func (p *Processor) UnsafeFlushIdleUnrecorded() []engine.Match {
	return p.Engine.FlushIdle()
}

// Meta is a decoded meta record.
type Meta struct {
	Version byte
	// Next is the next input offset to process.
	Next int64
	// Flushes is the number of idle flushes in the partition's history
	// (0 in version-1 records, which did not record them).
	Flushes uint64
	// LastFlush is Next at the latest idle flush, -1 when none.
	LastFlush int64
	// Revision is the rule-set revision the partition ran and RulesFrom
	// the input offset from which it did (version 3; "" and 0 before).
	Revision  string
	RulesFrom int64
	// Engine is the engine's meta record (engine.MetaStats reads it).
	Engine []byte
}

// DecodeMeta decodes a meta record of version 1, 2 or 3.
func DecodeMeta(v []byte) (Meta, error) {
	if len(v) < 9 {
		return Meta{}, errors.New("truncated meta record")
	}
	m := Meta{Version: v[0], Next: int64(binary.BigEndian.Uint64(v[1:9])), LastFlush: -1}
	switch m.Version {
	case 1:
		m.Engine = v[9:]
	case 2, 3:
		if len(v) < 25 {
			return Meta{}, errors.New("truncated meta record")
		}
		m.Flushes = binary.BigEndian.Uint64(v[9:17])
		m.LastFlush = int64(binary.BigEndian.Uint64(v[17:25]))
		m.Engine = v[25:]
		if m.Version == 3 {
			if len(v) < 34 || len(v) < 34+int(v[33]) {
				return Meta{}, errors.New("truncated meta record")
			}
			m.RulesFrom = int64(binary.BigEndian.Uint64(v[25:33]))
			m.Revision = string(v[34 : 34+int(v[33])])
			m.Engine = v[34+int(v[33]):]
		}
	default:
		return Meta{}, fmt.Errorf("unsupported meta record version %d", m.Version)
	}
	return m, nil
}

// FlushHistory recovers a partition's idle flush points from its committed
// meta records, read in offset order with read_committed (aborted
// transactions' records are skipped by the reader).
//
// Every committed transaction touching a partition writes one meta record,
// and an idle flush runs in a transaction of its own, so consecutive
// committed records raise the flush counter by 0 or 1; a raise by 1 carries
// the flush point in LastFlush. The state topic is compacted, but Kafka
// never compacts a topic's active segment, so while the history since the
// first record is in the active segment (or compaction has not run), it is
// complete. When it is not — compaction kept only newer records, or version-1
// records without flush counters precede — Add reports it instead of
// returning a shorter list: the counter says how many flushes there were.
type FlushHistory struct {
	// Points are the flush points, in order: replay input offsets [0,
	// Points[0]), flush, offsets [Points[0], Points[1]), flush, ...
	Points []int64
	// Last is the latest meta record added.
	Last    Meta
	Records int
	// Version1 counts version-1 records: written before flushes were
	// recorded. A replay is exact over them only if their writer ran
	// with the idle flush off.
	Version1 int
	// Revisions are the rule-set changes (version-3 records): replay
	// input offsets [Revisions[0].From, Revisions[1].From) with the
	// first revision's rules, then change to the next (see rules.go).
	Revisions []RevisionPoint
}

// ErrHistory means the meta records do not form one committed line of
// state: compacted away, or written by something that did not own the
// partition.
var ErrHistory = errors.New("meta record history is incomplete or inconsistent")

// Add adds the next committed meta record.
func (h *FlushHistory) Add(value []byte) error {
	m, err := DecodeMeta(value)
	if err != nil {
		return err
	}
	prev, first := h.Last, h.Records == 0
	h.Records++
	if m.Version == 1 {
		h.Version1++
	}
	h.Last = m
	if m.Version >= 3 && (first || prev.Version < 3 || m.Revision != prev.Revision || m.RulesFrom != prev.RulesFrom) {
		h.Revisions = append(h.Revisions, RevisionPoint{From: m.RulesFrom, Revision: m.Revision, Flushes: m.Flushes - btou(m.Flushes > prev.Flushes && !first)})
	}
	switch {
	case first && m.Flushes > 1:
		// the record of an earlier flush is gone
		return fmt.Errorf("%w: the first record already counts %d flushes", ErrHistory, m.Flushes)
	case first && m.Flushes == 1:
		h.Points = append(h.Points, m.LastFlush)
		return nil
	case first:
		return nil
	case m.Version < prev.Version:
		return fmt.Errorf("%w: a version-%d record after a version-%d record", ErrHistory, m.Version, prev.Version)
	case m.Next < prev.Next:
		return fmt.Errorf("%w: next offset went back from %d to %d", ErrHistory, prev.Next, m.Next)
	case m.Flushes < prev.Flushes:
		return fmt.Errorf("%w: flush counter went back from %d to %d at next offset %d", ErrHistory, prev.Flushes, m.Flushes, m.Next)
	case m.Flushes > prev.Flushes+1:
		return fmt.Errorf("%w: %d flushes between two records (next offsets %d and %d)", ErrHistory, m.Flushes-prev.Flushes, prev.Next, m.Next)
	case m.Flushes == prev.Flushes+1:
		if m.LastFlush < prev.Next || m.LastFlush > m.Next {
			return fmt.Errorf("%w: flush at offset %d outside [%d, %d]", ErrHistory, m.LastFlush, prev.Next, m.Next)
		}
		h.Points = append(h.Points, m.LastFlush)
	case m.LastFlush != prev.LastFlush:
		return fmt.Errorf("%w: flush point changed from %d to %d without a flush", ErrHistory, prev.LastFlush, m.LastFlush)
	}
	return nil
}

func btou(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
