package engine

import "math/bits"

// strTable is a read-only hash table from constant strings, built once at
// compile time, for the lookups of every event: the rule index and `in`
// sets. It hashes a key's length and its first and last bytes (at most
// sixteen, read as words) with two multiplications, and probes linearly in
// a table at most half full. For the short keys of detection rules this is
// several times cheaper than a Go map lookup, which hashes every byte.
type strTable[V any] struct {
	ents  []strEntry[V]
	shift uint8
	n     int
}

type strEntry[V any] struct {
	hash uint64 // 0: empty
	key  string
	val  V
}

// strHash hashes s; never 0.
func strHash(s string) uint64 {
	const (
		k0 = 0xa0761d6478bd642f
		k1 = 0xe7037ed1a0b428db
		k2 = 0x8ebc6af09c88c6e3
	)
	n := len(s)
	var a, b uint64
	switch {
	case n >= 8:
		a, b = loadStr64(s, 0), loadStr64(s, n-8)
	case n >= 4:
		a, b = uint64(loadStr32(s, 0)), uint64(loadStr32(s, n-4))
	case n > 0:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	}
	hi, lo := bits.Mul64(a^k0, b^k1^uint64(n))
	h := hi ^ lo
	hi, lo = bits.Mul64(h^k2, uint64(n)^k0)
	return (hi ^ lo) | 1
}

func loadStr64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

func loadStr32(s string, i int) uint32 {
	_ = s[i+3]
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

// newStrTable builds a table of m.
func newStrTable[V any](m map[string]V) *strTable[V] {
	size := 8
	for size < 2*len(m) {
		size <<= 1
	}
	t := &strTable[V]{ents: make([]strEntry[V], size), shift: uint8(64 - bits.TrailingZeros(uint(size))), n: len(m)}
	for k, v := range m {
		h := strHash(k)
		for i := h >> t.shift; ; i = (i + 1) & uint64(size-1) {
			if t.ents[i].hash == 0 {
				t.ents[i] = strEntry[V]{hash: h, key: k, val: v}
				break
			}
		}
	}
	return t
}

// get returns the value of key.
func (t *strTable[V]) get(key []byte) (v V, ok bool) {
	if t == nil || t.n == 0 {
		return v, false
	}
	h := strHash(bstr(key))
	mask := uint64(len(t.ents) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
		e := &t.ents[i]
		if e.hash == h && e.key == bstr(key) {
			return e.val, true
		}
		if e.hash == 0 {
			return v, false
		}
	}
}

// has reports whether key is in the table.
func (t *strTable[V]) has(key []byte) bool {
	_, ok := t.get(key)
	return ok
}
