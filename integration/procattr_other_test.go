//go:build !linux

package integration

import "os/exec"

func setDeathSignal(*exec.Cmd) {}

// processCPU is not measured here (the copy ceiling reports no CPU).
func processCPU() float64 { return 0 }
