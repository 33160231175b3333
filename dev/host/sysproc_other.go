//go:build unix && !linux

package host

import "syscall"

// sysProcAttr puts the handler in its own process group, so a terminal's
// Ctrl-C reaches only the development host, which then stops the handler.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
