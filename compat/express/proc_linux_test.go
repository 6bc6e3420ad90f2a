package express_test

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the Node app die with the test binary, even if the
// test process is killed before its cleanups run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
