package executor

import "golang.org/x/sys/unix"

// exitedUnreaped blocks until the child pid has ended, without reaping it
// (waitid with WNOWAIT), so that its pid and process group ID stay reserved
// until os/exec reaps it, and reports true; false if it could not wait so
// (the caller then waits the usual way). Interrupted waits are retried.
func exitedUnreaped(pid int) bool {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err == nil
		}
	}
}
