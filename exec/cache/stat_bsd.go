//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package cache

import "syscall"

func ctimeNs(st *syscall.Stat_t) int64 { return st.Ctimespec.Nano() }

func mtimeNs(st *syscall.Stat_t) int64 { return st.Mtimespec.Nano() }
