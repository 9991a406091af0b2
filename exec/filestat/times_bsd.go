//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package filestat

import "syscall"

// CtimeNs returns st's status-change time in Unix nanoseconds.
func CtimeNs(st *syscall.Stat_t) int64 { return st.Ctimespec.Nano() }

// MtimeNs returns st's modification time in Unix nanoseconds.
func MtimeNs(st *syscall.Stat_t) int64 { return st.Mtimespec.Nano() }
