package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestStrTable: lookups agree with a map, for keys of every length,
// including keys that share their length and first and last eight bytes
// (equal hashes), and for absent keys.
func TestStrTable(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for size := 0; size < 300; size += 1 + size/3 {
		m := map[string]int{}
		for len(m) < size {
			var k string
			switch r.IntN(3) {
			case 0:
				k = fmt.Sprintf("/usr/lib/%c%c/x86_64-linux-gnu", 'a'+r.IntN(26), 'a'+r.IntN(26))
			case 1:
				b := make([]byte, r.IntN(20))
				for i := range b {
					b[i] = byte(r.IntN(256))
				}
				k = string(b)
			default:
				k = []string{"", "a", "sh", "bash", "python3", "perl", "x86_64"}[r.IntN(7)] + fmt.Sprint(r.IntN(5))
			}
			m[k] = len(m)
		}
		tab := newStrTable(m)
		for k, v := range m {
			if got, ok := tab.get([]byte(k)); !ok || got != v {
				t.Fatalf("size %d: get(%q) = %d, %v; want %d", size, k, got, ok, v)
			}
		}
		for range 200 {
			k := fmt.Sprintf("/usr/lib/%c%c/x86_64-linux-gnu", 'a'+r.IntN(26), 'A'+r.IntN(26))
			if _, ok := tab.get([]byte(k)); ok != (m[k] != 0 || func() bool { _, in := m[k]; return in }()) {
				t.Fatalf("size %d: get(%q) reports %v", size, k, ok)
			}
		}
	}
	var empty *strTable[int]
	if empty.has([]byte("x")) {
		t.Fatal("nil table has a key")
	}
}
