package proc

import "syscall"

// signalGroup signals the process group whose id is pid (every child is the
// leader of its own group), falling back to the process alone.
func signalGroup(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pid, sig); err == nil {
		return nil
	}
	return syscall.Kill(pid, sig)
}
