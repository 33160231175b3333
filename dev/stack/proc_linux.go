package stack

import "syscall"

// sysProcAttr makes the kernel kill a stand-in when the process that started
// it dies (e.g. a test binary killed by its timeout), so none is left behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
