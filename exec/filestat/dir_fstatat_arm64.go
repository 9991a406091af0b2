//go:build linux

package filestat

import "syscall"

const sysFstatat = syscall.SYS_FSTATAT
