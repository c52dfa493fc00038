package rules

import (
	"bytes"
	"testing"
	"time"

	"github.com/eqlstream/eqlstream/internal/gen"
)

// The event store keeps a body only while live state or the reorder buffer
// can still refer to it. A sequence partial's later stages are not filled
// yet; if they read as references, the oldest live partial pins every body
// after it and the store (the pipeline's heap) grows with the input.
func TestEventStoreReleasesBodies(t *testing.T) {
	set := builtinSet(t)
	g, err := gen.New(gen.Config{Seed: 3, Events: 60_000, Hosts: 50, AttackRate: 0.03, LookalikeRate: 0.05,
		Disorder: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := g.WriteNDJSON(&buf); err != nil {
		t.Fatal(err)
	}
	eng := set.Program.NewEngine()
	store := NewEventStore()
	maxLen, maxLive := 0, 0
	var ref uint64
	for _, raw := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		ref++
		_, retained, err := eng.Process(raw, ref)
		if err != nil {
			t.Fatal(err)
		}
		if retained {
			store.Put(ref, raw)
		}
		store.Trim(eng.MinLiveRef)
		maxLen = max(maxLen, store.Len())
		st := eng.Stats()
		maxLive = max(maxLive, st.LiveStates+st.Buffered)
	}
	// The bound: bodies that live state or the buffer can refer to (each
	// partial holds at most two events here), plus what accumulates between
	// two trims of the store (it trims every 1,024 puts) and the events
	// retained during the oldest live partial's window (2s of disorder plus
	// the rules' maxspans of seconds) — a few thousand at most, far below
	// the 60,000 events.
	if limit := 2*maxLive + 4000; maxLen > limit {
		t.Fatalf("the event store held up to %d bodies (at most %d live states and buffered hits): bodies are not released", maxLen, maxLive)
	}
	t.Logf("store held at most %d bodies; at most %d live states and buffered hits", maxLen, maxLive)
}
