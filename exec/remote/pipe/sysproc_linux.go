package pipe

import "syscall"

// helperAttrs puts the helper in a process group of its own (a Ctrl-C at
// the terminal is bld's to handle) and kills it if bld dies.
func helperAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
