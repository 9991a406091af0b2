//go:build linux || solaris || illumos

package cache

import "syscall"

func ctimeNs(st *syscall.Stat_t) int64 { return st.Ctim.Nano() }

func mtimeNs(st *syscall.Stat_t) int64 { return st.Mtim.Nano() }
