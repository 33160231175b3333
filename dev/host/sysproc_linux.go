package host

import "syscall"

// sysProcAttr puts the handler in its own process group, so a terminal's
// Ctrl-C reaches only the development host (which then stops the handler in
// order), and asks the kernel to SIGTERM it if the host dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
