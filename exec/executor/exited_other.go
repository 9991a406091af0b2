//go:build !linux

package executor

// exitedUnreaped reports false: without waitid's WNOWAIT here, the caller
// waits the usual way.
func exitedUnreaped(pid int) bool { return false }
