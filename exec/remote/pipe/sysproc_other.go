//go:build !linux

package pipe

import "syscall"

// helperAttrs puts the helper in a process group of its own (a Ctrl-C at
// the terminal is bld's to handle). Without Linux's parent-death signal,
// the helper ends when bld's end closes its input.
func helperAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
