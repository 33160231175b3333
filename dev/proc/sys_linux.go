package proc

import "syscall"

// sysProcAttr gives the child its own process group and asks the kernel to
// kill it if the supervising process dies (e.g. a test binary killed by its
// timeout), so no child outlives its supervisor.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
