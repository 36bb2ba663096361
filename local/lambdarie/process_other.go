//go:build !linux

package lambdarie

import "os/exec"

// setProcessGroup does nothing off Linux, where the emulator does not run.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the emulator.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
