package main

import (
	"log/slog"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of `run` to the file named by
// EQLSTREAM_CPU_PROFILE (for performance work: go tool pprof -top bin file)
// until the returned function is called; it does nothing when unset.
func startCPUProfile(log *slog.Logger) (stop func()) {
	path := os.Getenv("EQLSTREAM_CPU_PROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		log.Error("cpu profile not written", "path", path, "err", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		log.Error("cpu profile not written", "path", path, "err", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
