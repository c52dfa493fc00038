package engine

import (
	"math/rand/v2"
	"testing"
)

// TestWildcardKinds: each specialised wildcard kind, with its inline first
// and last byte checks, agrees with the general glob matcher.
func TestWildcardKinds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const alpha = "ab*?/é"
	str := func(n int, wild bool) string {
		b := make([]rune, n)
		for i := range b {
			c := []rune(alpha)[r.IntN(len([]rune(alpha)))]
			for !wild && (c == '*' || c == '?') {
				c = []rune(alpha)[r.IntN(len([]rune(alpha)))]
			}
			b[i] = c
		}
		return string(b)
	}
	for range 200000 {
		p, s := str(r.IntN(6), true), str(r.IntN(8), false)
		w := compileWildcard(p, false)
		if got, want := w.match([]byte(s)), globMatch([]byte(p), []byte(s)); got != want {
			t.Fatalf("pattern %q (kind %d) on %q: got %v, want %v", p, w.kind, s, got, want)
		}
	}
}
