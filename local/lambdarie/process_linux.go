package lambdarie

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the emulator and the function it spawns in a group
// of their own, so Close can kill both, and has the kernel kill the
// emulator if this process dies first (a crashed test leaves nothing behind).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killProcessGroup kills the emulator's process group.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
