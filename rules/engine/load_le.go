//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package engine

import "unsafe"

// load64 reads b[i:i+8] as a little-endian word; the caller checks bounds.
// On little-endian machines it is one unaligned load, cheap enough for the
// string scanner to inline.
func load64(b []byte, i int) uint64 {
	return *(*uint64)(unsafe.Pointer(unsafe.SliceData(b[i:])))
}
