//go:build linux

package integration

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill a processor when the test process
// dies (a panic or a test timeout), so no processor outlives its test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
