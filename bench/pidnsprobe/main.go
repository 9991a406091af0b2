//go:build linux

// Command pidnsprobe measures two ways of giving a command a pid namespace
// of its own with a /proc of that namespace, as the namespace sandbox's
// zygote does for each command (exec/sandbox, privateProc):
//
//   - ptrace (the zygote's way): clone with CLONE_NEWPID, the child stopped
//     at its exec by ptrace (PTRACE_TRACEME), a proc of its namespace
//     mounted on /proc (the pidns option, from PIDFD_GET_PID_NAMESPACE),
//     then wait4 for the stop and PTRACE_DETACH: two sleeps and wake-ups
//     on the command's path to its first instruction.
//
//   - unshare: unshare(CLONE_NEWPID) on the locked thread, the new (empty)
//     namespace from PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE on a pidfd of the
//     thread (PIDFD_THREAD, Linux 6.9), its proc mounted on /proc before
//     the fork, a plain fork (the child is the namespace's pid 1, and runs
//     at once), then setns(2) back to the thread's own pid namespace, which
//     is allowed only when that namespace belongs to the thread's user
//     namespace.
//
// So the unshare way needs the process to be pid 1 of a user and pid
// namespace of its own, as the zygote would have to be:
//
//	go build -o /tmp/pidnsprobe ./bench/pidnsprobe
//	unshare --user --map-root-user --pid --fork --mount --mount-proc /tmp/pidnsprobe -mode unshare
//
// Each of -n commands is `sh -c 'exit 0'`, one at a time; it prints the
// wall time per command, the CPU time per command of this process (the
// zygote's part) and of the commands. -check runs one command that prints
// its pid and the pids its /proc shows (they must be its own namespace's:
// 1 and its children).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	mode := flag.String("mode", "unshare", "ptrace or unshare")
	n := flag.Int("n", 2000, "commands")
	check := flag.Bool("check", false, "run one command that shows its pid and its /proc")
	flag.Parse()
	if err := run(*mode, *n, *check); err != nil {
		fmt.Fprintln(os.Stderr, "pidnsprobe:", err)
		os.Exit(1)
	}
}

func run(mode string, n int, check bool) error {
	runtime.LockOSThread()
	// A mount namespace of the thread's own, where each command's /proc
	// is mounted (and unmounted after it).
	if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	p := &prober{self: -1, thread: -1}
	if mode == "unshare" {
		var err error
		if p.self, err = unix.Open("/proc/thread-self/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		if p.thread, err = unix.PidfdOpen(unix.Gettid(), unix.PIDFD_THREAD); err != nil {
			return fmt.Errorf("a pidfd of the thread (Linux 6.9): %w", err)
		}
	} else if mode != "ptrace" {
		return fmt.Errorf("-mode %q: want ptrace or unshare", mode)
	}
	argv := []string{"sh", "-c", "exit 0"}
	if check {
		n = 1
		argv = []string{"sh", "-c", `echo "pid $$; /proc shows:" $(ls /proc | grep -E '^[0-9]+$')`}
	}
	var ru0, ru1, rc unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		var err error
		if mode == "ptrace" {
			err = p.ptraceOne(argv)
		} else {
			err = p.unshareOne(argv)
		}
		if err != nil {
			return fmt.Errorf("command %d: %w", i, err)
		}
	}
	wall := time.Since(t0) / time.Duration(n)
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	unix.Getrusage(unix.RUSAGE_CHILDREN, &rc)
	self := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(n)
	kids := time.Duration(rc.Utime.Nano()+rc.Stime.Nano()) / time.Duration(n)
	fmt.Printf("%s: %d commands, per command: wall %v, cpu here %v, cpu of the command %v\n", mode, n, wall, self, kids)
	return nil
}

// A prober holds the unshare way's descriptors: the thread's own pid
// namespace and a pidfd of the thread.
type prober struct {
	self, thread int
}

// unshareOne runs argv in a pid namespace made before the fork.
func (p *prober) unshareOne(argv []string) (err error) {
	if err := unix.Unshare(unix.CLONE_NEWPID); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWPID): %w", err)
	}
	back := func() error {
		if err := unix.Setns(p.self, unix.CLONE_NEWPID); err != nil {
			return fmt.Errorf("setns back to the thread's pid namespace: %w", err)
		}
		return nil
	}
	ns, err := unix.IoctlRetInt(p.thread, unix.PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE)
	if err != nil {
		back()
		return fmt.Errorf("PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE (Linux 6.11): %w", err)
	}
	err = mountProc(ns)
	unix.Close(ns)
	if err != nil {
		back()
		return err
	}
	pid, err := syscall.ForkExec("/bin/sh", argv, &syscall.ProcAttr{Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}})
	if berr := back(); berr != nil {
		return berr
	}
	if err != nil {
		return err
	}
	return reap(pid)
}

// ptraceOne runs argv as the zygote does: a pid namespace made at the
// clone, the command stopped at its exec until its /proc is mounted.
func (p *prober) ptraceOne(argv []string) error {
	pidfd := -1
	pid, err := syscall.ForkExec("/bin/sh", argv, &syscall.ProcAttr{Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: syscall.CLONE_NEWPID, Ptrace: true, PidFD: &pidfd}})
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	ns, err := unix.IoctlRetInt(pidfd, unix.PIDFD_GET_PID_NAMESPACE)
	if err == nil {
		err = mountProc(ns)
		unix.Close(ns)
	}
	if err != nil {
		unix.Kill(pid, unix.SIGKILL)
		reap(pid)
		return err
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		return fmt.Errorf("the stop at exec: %v (status %#x)", err, int(ws))
	}
	if err := unix.PtraceDetach(pid); err != nil {
		return err
	}
	return reap(pid)
}

// mountProc mounts on /proc a proc file system of the pid namespace ns,
// as the zygote's mountProcOf does.
func mountProc(ns int) error {
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetFd(fs, "pidns", ns); err != nil {
		return fmt.Errorf("proc's pidns option (Linux 6.15): %w", err)
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return err
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(mnt)
	return unix.MoveMount(mnt, "", unix.AT_FDCWD, "/proc", unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// reap waits for the command, checks that it exited 0, and unmounts its
// /proc (the zygote instead stacks a slot's and drops them together).
func reap(pid int) error {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	unix.Unmount("/proc", unix.MNT_DETACH)
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("the command ended with status %#x", int(ws))
	}
	return nil
}
