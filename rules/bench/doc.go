// Package bench holds the end-to-end benchmarks and allocation tests of the
// built-in detections (rules.Builtin) over events from internal/gen: decode
// plus evaluation per event, against goccy/go-json's Valid on the same
// events as the baseline cost of merely reading them. It has no non-test
// code; the engine's own benchmarks (decode only, the Linux corpus,
// sequence state) live in rules/engine, which cannot import package rules.
//
//	go test -run '^$' -bench . -benchmem -count 6 -cpu 1 ./rules/bench ./rules/engine
package bench
