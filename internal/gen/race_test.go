//go:build race

package gen

// raceEnabled shrinks the slowest tests under the race detector.
const raceEnabled = true
