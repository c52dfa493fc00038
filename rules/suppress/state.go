package suppress

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Record is one window's state-topic record: Key is relative to the
// partition's key prefix ("s/<rule id>/<16 hex digits>"), a nil Value
// deletes the window (a tombstone).
type Record struct {
	Key   string
	Value []byte
}

// KeyPrefix starts the keys of suppression records (after the partition's
// prefix).
const KeyPrefix = "s/"

// recordVersion is the version of a window record's encoding.
const recordVersion = 1

// Begin starts a unit of work (a transaction): changes are kept until
// Commit, or undone by Rollback.
func (s *State) Begin() {
	clear(s.undo)
	s.track = true
}

// Commit makes the unit of work's changes permanent.
func (s *State) Commit() {
	clear(s.undo)
	s.track = false
}

// Rollback undoes the changes since Begin.
func (s *State) Rollback() {
	if !s.track {
		return
	}
	for k, w := range s.undo {
		if w == nil {
			delete(s.open, k)
		} else {
			s.open[k] = w
		}
	}
	clear(s.undo)
	s.track = false
	s.resetMinEnd()
}

func (s *State) resetMinEnd() {
	s.minEnd = math.MaxInt64
	for _, w := range s.open {
		s.minEnd = min(s.minEnd, w.end)
	}
}

// Pending returns the records of the windows changed since Begin, in key
// order: the window's encoding, or a tombstone for a closed one.
func (s *State) Pending() []Record {
	ks := make([]wkey, 0, len(s.undo))
	for k := range s.undo {
		ks = append(ks, k)
	}
	return s.records(ks)
}

// Records returns every open window as the record a committed state topic
// holds for it, in key order (to compare a replay with committed state).
func (s *State) Records() []Record {
	ks := make([]wkey, 0, len(s.open))
	for k := range s.open {
		ks = append(ks, k)
	}
	return s.records(ks)
}

// records returns the records of keys ks, sorted.
func (s *State) records(ks []wkey) []Record {
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].rule != ks[j].rule {
			return ks[i].rule < ks[j].rule
		}
		return ks[i].key < ks[j].key
	})
	out := make([]Record, 0, len(ks))
	for _, k := range ks {
		r := Record{Key: recordKey(k)}
		if w := s.open[k]; w != nil {
			r.Value = encode(w)
		}
		out = append(out, r)
	}
	return out
}

func recordKey(k wkey) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], k.key)
	return KeyPrefix + k.rule + "/" + hex.EncodeToString(b[:])
}

// Restore applies one restored record (key relative to the partition's
// prefix, starting with KeyPrefix; the latest value of the key). The window
// of a rule that is gone, no longer suppresses or changed (another
// fingerprint) is not restored: stale reports it, and the caller deletes
// the record (see Migrate).
func (s *State) Restore(key string, value []byte) (stale bool, err error) {
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok || len(rest) < 18 || rest[len(rest)-17] != '/' {
		return false, fmt.Errorf("bad suppression state key %q", key)
	}
	kb, err := hex.DecodeString(rest[len(rest)-16:])
	if err != nil {
		return false, fmt.Errorf("bad suppression state key %q", key)
	}
	k := wkey{rule: rest[:len(rest)-17], key: binary.BigEndian.Uint64(kb)}
	if value == nil {
		delete(s.open, k)
		s.resetMinEnd()
		return false, nil
	}
	w, err := decode(value)
	if err != nil {
		return false, fmt.Errorf("suppression state %q: %w", key, err)
	}
	w.rule = k.rule
	if c := s.byID[k.rule]; c == nil || c.finger != w.fp {
		return true, nil
	}
	s.open[k] = w
	s.minEnd = min(s.minEnd, w.end)
	return false, nil
}

// [1][fp u64][first i64][end i64][last i64][docs u64][len u16 id][id][len u16 host][host][terms]
func encode(w *window) []byte {
	b := make([]byte, 0, 45+len(w.id)+len(w.host)+len(w.terms)+4)
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, w.fp)
	b = binary.BigEndian.AppendUint64(b, uint64(w.first))
	b = binary.BigEndian.AppendUint64(b, uint64(w.end))
	b = binary.BigEndian.AppendUint64(b, uint64(w.last))
	b = binary.BigEndian.AppendUint64(b, w.docs)
	b = binary.BigEndian.AppendUint16(b, uint16(len(w.id)))
	b = append(b, w.id...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(w.host)))
	b = append(b, w.host...)
	return append(b, w.terms...)
}

var errShort = errors.New("truncated record")

func decode(b []byte) (*window, error) {
	if len(b) < 45 || b[0] != recordVersion {
		if len(b) > 0 && b[0] != recordVersion {
			return nil, fmt.Errorf("unknown record version %d", b[0])
		}
		return nil, errShort
	}
	w := &window{}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[1+8*i:]) }
	w.fp, w.first, w.end, w.last, w.docs = u(0), int64(u(1)), int64(u(2)), int64(u(3)), u(4)
	p := 41
	str := func() (string, bool) {
		if len(b) < p+2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(b[p:]))
		p += 2
		if len(b) < p+n {
			return "", false
		}
		s := string(b[p : p+n])
		p += n
		return s, true
	}
	var ok1, ok2 bool
	w.id, ok1 = str()
	w.host, ok2 = str()
	if !ok1 || !ok2 || p >= len(b) {
		return nil, errShort
	}
	w.terms = append([]byte(nil), b[p:]...)
	return w, nil
}
