//go:build unix

package executor

import (
	"os"
	"os/exec"
	"syscall"
)

// cmdSetProcessGroup starts the command as the leader of a new process group,
// so that everything it starts can be killed with it.
func cmdSetProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// cmdKillProcessGroup kills the group p leads. A group already gone is not an
// error.
func cmdKillProcessGroup(p *os.Process) {
	if p != nil && p.Pid > 0 {
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
}

// cmdSignalStatus is the shell's status for a program killed by a signal.
func cmdSignalStatus(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return 128
}
