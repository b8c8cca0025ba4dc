//go:build !unix

package executor

import (
	"os"
	"os/exec"
)

// cmdSetProcessGroup does nothing where there are no process groups; only the
// program itself is killed on timeout.
func cmdSetProcessGroup(*exec.Cmd) {}

// cmdKillProcessGroup kills the program.
func cmdKillProcessGroup(p *os.Process) {
	if p != nil {
		_ = p.Kill()
	}
}

// cmdSignalStatus is the status of a program that did not exit by itself.
func cmdSignalStatus(*exec.ExitError) int { return 128 }
