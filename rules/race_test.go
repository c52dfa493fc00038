//go:build race

package rules

// raceEnabled shrinks the slowest tests under the race detector.
const raceEnabled = true
