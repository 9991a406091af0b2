package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"bld/exec/crash"
)

// Boxes: pid namespaces that the zygote keeps and reuses.
//
// A command with a pid namespace of its own cost the zygote, each time, a
// new pid namespace (made at the fork, torn down when the command, its
// init, ended), a new proc file system of it on the command's /proc, and
// a ptrace stop at the command's exec until that /proc was there. A box
// is a pid namespace made once, with an init of the zygote's (boxInit, bld's
// own binary, started with verbInit), whose /proc a slot mounts once: the
// zygote forks each command of the slot into it (setns(2) of the thread's
// pid namespace for children, then a plain fork), so the command starts
// with its /proc already there, and runs, not stopped, at once.
//
// Isolation is kept, command after command:
//
//   - A box serves one command at a time (its slot's). When the command
//     has ended and been reaped, the zygote asks the box's init to empty
//     the namespace: it kills every other process of it (kill(-1,
//     SIGKILL): atomic with respect to fork), reaps them (every process of
//     the namespace is the command's descendant, so the init's once the
//     command is gone) until it has no child, checks on its /proc that
//     only itself is left, and sets the namespace's last pid back to 1, so
//     that the next command is pid 2 again (as under the per-action
//     helper, whose init is pid 1: a command's pid does not depend on the
//     commands the box ran before). Only then does the zygote answer 'x'
//     for the command: as with a pid namespace per command, nothing the
//     command started outlives its answer, and the next command of the
//     box sees in /proc the init and its own processes only.
//   - If the init cannot say so (the namespace is not empty, or the init
//     died), the box is dropped: its init killed, with the whole
//     namespace (the kernel kills every process of a namespace whose init
//     ends), and the command's answer waits for that end.
//   - The init holds nothing a command could use: it is not dumpable (no
//     ptrace, no /proc/1/fd, environ, root or cwd for the commands), its
//     mount namespace is one where the workspace and FixedDir are empty
//     read-only file systems, its environment is empty and its
//     descriptors are its socket to the zygote and the /proc it checks.
//     It keeps CAP_SYS_ADMIN, in the zygote's user namespace only, to set
//     the namespace's last pid.
//
// The zygote makes a box when a new slot needs one and none is free, so
// there are about as many as commands run at once; a box outlives the
// slots it serves (a slot, when dropped, gives its box back).

// verbInit is the helper's verb for a box's init.
const verbInit = "init"

// A box is a pid namespace of the zygote's, with its init.
type box struct {
	pid   int // the init's, on the host
	pidfd int // the init's: readable once it ended; setns(2) to it enters the namespace for children
	ctl   int // the zygote's end of the socket to the init
	// job is the command whose emptying the zygote asked for and waits
	// for; its answer to bld is sent once the box is empty.
	job *zjob
	// dead: the init ended (or was killed): the box serves no more.
	dead bool
}

// Messages between the zygote and a box's init, one byte each on their
// SOCK_SEQPACKET socket (the first, 'm', carries the init's proc mount as
// SCM_RIGHTS).
const (
	boxProc  = 'm' // zygote: here is a proc mount of your namespace
	boxEmpty = 'e' // zygote: empty the namespace
	boxClean = 'c' // init: the namespace is empty, its last pid 1
	boxDirty = 'd' // init: it could not make it so
)

// maxBoxFailures is how many boxes may fail to empty before the zygote
// stops making them (the kernel refuses what the init does): commands
// then get a pid namespace each, as without boxes.
const maxBoxFailures = 3

// newBox makes a box: a pid namespace with its init, started by the
// box maker's thread (boxMaker).
func (z *zserver) newBox() (b *box, err error) {
	if z.maker == nil {
		if z.maker, err = startBoxMaker(z.view, z.exe, z.null); err != nil {
			return nil, err
		}
	}
	z.maker.req <- struct{}{}
	r := <-z.maker.res
	if r.err != nil {
		return nil, r.err
	}
	b = &box{pid: r.pid, pidfd: r.pidfd, ctl: r.ctl}
	z.kids[b.pid] = true
	if b.pidfd < 0 {
		z.killBox(b)
		return nil, errors.New("a box needs pidfds")
	}
	// Its proc mount, to check that it is empty, and to set its last pid.
	mnt, err := procMount(b.pidfd)
	if err == nil {
		err = unix.Sendmsg(b.ctl, []byte{boxProc}, unix.UnixRights(mnt), nil, unix.MSG_NOSIGNAL)
		unix.Close(mnt)
	}
	if err == nil {
		// Its answer: it set the last pid (once its runtime's threads
		// took theirs: see boxInit).
		err = waitClean(b.ctl)
	}
	if err == nil {
		err = unix.EpollCtl(z.ep, unix.EPOLL_CTL_ADD, b.ctl, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(b.ctl)})
	}
	if err == nil {
		z.boxFD[int32(b.ctl)] = b
		err = unix.EpollCtl(z.ep, unix.EPOLL_CTL_ADD, b.pidfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(b.pidfd)})
	}
	if err != nil {
		z.killBox(b)
		return nil, fmt.Errorf("a box: %w", err)
	}
	z.boxFD[int32(b.pidfd)] = b
	return b, nil
}

// waitClean waits for a box's init to answer boxClean on ctl, for
// boxReadyTimeout at most.
func waitClean(ctl int) error {
	fds := []unix.PollFd{{Fd: int32(ctl), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(boxReadyTimeout.Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("its init did not answer")
		}
		break
	}
	var msg [1]byte
	n, _, err := unix.Recvfrom(ctl, msg[:], unix.MSG_DONTWAIT)
	if err == nil && (n != 1 || msg[0] != boxClean) {
		err = errors.New("its init could not set the namespace's last pid")
	}
	return err
}

// boxReadyTimeout bounds the wait for a new box's init.
const boxReadyTimeout = 10 * time.Second

// A boxMaker is a thread of the zygote that starts the boxes' inits: the
// serving thread cannot, as its bounding set may be empty (dropCapabilities)
// while the init needs CAP_SYS_ADMIN, and its children may start in a
// box's pid namespace. The maker's thread is locked for the zygote's life
// (an init gets SIGKILL when the thread that started it ends), in a mount
// namespace of its own where the workspace and FixedDir are empty
// read-only file systems: the inits' namespace.
type boxMaker struct {
	req chan struct{}
	res chan boxMade
}

type boxMade struct {
	pid, pidfd, ctl int
	err             error
}

// startBoxMaker starts the box maker's thread, for the workspace view
// (hidden in its namespace), starting the binary exe (a descriptor) with
// stdin and stdout null.
func startBoxMaker(view string, exe, null int) (*boxMaker, error) {
	m := &boxMaker{req: make(chan struct{}), res: make(chan boxMade)}
	ready := make(chan error)
	crash.Go(func() {
		runtime.LockOSThread() // for good: see boxMaker
		err := hideForInits(view)
		ready <- err
		if err != nil {
			return // and the thread, locked, with it
		}
		for range m.req {
			m.res <- makeInit(exe, null)
		}
	})
	if err := <-ready; err != nil {
		return nil, err
	}
	return m, nil
}

// hideForInits gives the thread a mount namespace of its own in which the
// workspace view and FixedDir are hidden.
func hideForInits(view string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("boxes: unshare(CLONE_NEWNS): %w", err)
	}
	if err := hideWorkspace(view); err != nil {
		return fmt.Errorf("boxes: %w", err)
	}
	if err := unix.Mount("tmpfs", FixedDir, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "size=4k"); err != nil {
		return fmt.Errorf("boxes: hiding %s: %w", FixedDir, err)
	}
	return nil
}

// makeInit starts a box's init, in a pid namespace of its own, from the
// box maker's thread.
func makeInit(exe, null int) boxMade {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return boxMade{err: fmt.Errorf("a box: socketpair: %w", err)}
	}
	defer unix.Close(fds[1])
	pidfd := -1
	sys := &syscall.SysProcAttr{Setpgid: true, PidFD: &pidfd, Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	if os.Getuid() != 0 {
		// root gets every capability of the namespace at exec.
		sys.AmbientCaps = []uintptr{unix.CAP_SYS_ADMIN}
	}
	// The binary through the zygote's descriptor of it: it may lie in the
	// workspace, hidden here.
	path := "/proc/self/fd/" + strconv.Itoa(exe)
	pid, err := syscall.ForkExec(path, []string{"bld-sandbox-init", helperArg, verbInit}, &syscall.ProcAttr{
		Dir: "/", Env: []string{"GOMAXPROCS=1"}, Files: []uintptr{uintptr(null), uintptr(null), 2, uintptr(fds[1])}, Sys: sys})
	if err != nil {
		unix.Close(fds[0])
		return boxMade{err: fmt.Errorf("a box: starting its init: %w", err)}
	}
	return boxMade{pid: pid, pidfd: pidfd, ctl: fds[0]}
}

// childPidns makes the thread's children start in the pid namespace of
// the process pidfd refers to (a box's init), or, with -1, in the
// zygote's own. The thread cannot go back to the zygote's own once it
// entered a box's (setns(2) to the host's pid namespace takes a
// capability there): a command that needs it (one without a pid
// namespace: allow_daemon; or with one but no box) is then declined, and
// bld runs it with the per-action helper.
func (z *zserver) childPidns(pidfd int) error {
	if z.pidFor == pidfd {
		return nil
	}
	if pidfd < 0 {
		return errors.New("the zygote's thread is in a box's pid namespace")
	}
	if err := unix.Setns(pidfd, unix.CLONE_NEWPID); err != nil {
		return fmt.Errorf("entering a pid namespace: %w", err)
	}
	z.pidFor = pidfd
	return nil
}

// emptyBox asks b's init to empty the namespace of command j, which was
// reaped: j's answer waits for the init's (boxEvent). When the init
// cannot be asked, the box is dropped, and j's answer waits for the
// init's end.
func (z *zserver) emptyBox(b *box, j *zjob) {
	b.job = j
	if b.dead {
		z.boxGone(b)
		return
	}
	for {
		err := unix.Sendmsg(b.ctl, []byte{boxEmpty}, nil, nil, unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			z.killBox(b)
		}
		return
	}
}

// boxEvent handles b's descriptor fd being readable: the init's answer
// (ctl), or its end (pidfd).
func (z *zserver) boxEvent(b *box, fd int32) {
	if fd == int32(b.pidfd) {
		// The init ended, and with it every process of the namespace.
		for {
			if _, err := unix.Wait4(b.pid, nil, unix.WALL, nil); err != unix.EINTR {
				break
			}
		}
		delete(z.kids, b.pid)
		delete(z.boxFD, int32(b.pidfd))
		unix.Close(b.pidfd) // out of the epoll set
		b.pidfd = -1
		b.dead = true
		z.closeBoxCtl(b)
		z.boxGone(b)
		return
	}
	var msg [1]byte
	n, _, err := unix.Recvfrom(b.ctl, msg[:], unix.MSG_DONTWAIT)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	switch {
	case err == nil && n == 1 && msg[0] == boxClean && b.job != nil:
		j := b.job
		b.job = nil
		z.finish(j)
	case err == nil && n == 1 && msg[0] == boxClean:
		// Not asked: ignore it.
	default:
		// Dirty, or the init is gone: drop the box; the command's answer
		// waits for the init's end.
		if err == nil && n == 1 && msg[0] == boxDirty {
			z.boxFailures++
			if z.boxFailures >= maxBoxFailures {
				z.noBox = "the boxes' inits could not empty their namespaces"
			}
		}
		z.killBox(b)
	}
}

// killBox kills b's init, which ends its namespace; the init's pidfd
// then says it ended (boxEvent).
func (z *zserver) killBox(b *box) {
	z.closeBoxCtl(b)
	if b.pidfd < 0 {
		// Never watched: wait for it here.
		unix.Kill(b.pid, unix.SIGKILL)
		for {
			if _, err := unix.Wait4(b.pid, nil, unix.WALL, nil); err != unix.EINTR {
				break
			}
		}
		delete(z.kids, b.pid)
		b.dead = true
		z.boxGone(b)
		return
	}
	unix.PidfdSendSignal(b.pidfd, unix.SIGKILL, nil, 0)
	b.dead = true
}

// closeBoxCtl closes the zygote's end of b's socket.
func (z *zserver) closeBoxCtl(b *box) {
	if b.ctl >= 0 {
		delete(z.boxFD, int32(b.ctl))
		unix.Close(b.ctl)
		b.ctl = -1
	}
}

// boxGone is called when b is dead and its init reaped (or never
// watched): the command whose answer waited for it is answered.
func (z *zserver) boxGone(b *box) {
	if b.pidfd >= 0 || b.ctl >= 0 {
		return // its init's end is still to come
	}
	if j := b.job; j != nil {
		b.job = nil
		z.finish(j)
	}
}

// reapStrays reaps the zygote's children that are neither a command nor
// a box's init: a process that a command started with CLONE_PARENT, a
// sibling of the command, is a child of the zygote. Until reaped, it
// would stay in its box's namespace (as a zombie), which the box's init
// then cannot empty. It stops at the first ended child it knows, which
// its pidfd's event reaps.
func (z *zserver) reapStrays() {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		pid := int(*(*int32)(unsafe.Add(unsafe.Pointer(&info), 16))) // si_pid
		if err != nil || pid == 0 || z.kids[pid] {
			return
		}
		for {
			if _, err := unix.Wait4(pid, nil, unix.WALL, nil); err != unix.EINTR {
				break
			}
		}
	}
}

// procMount returns a detached mount (fsmount(2)) of a proc file system
// showing the pid namespace of the process pidfd refers to: nosuid,
// nodev, noexec, as the per-action helper mounts its own.
func procMount(pidfd int) (int, error) {
	if pidfd < 0 {
		return -1, &procError{errors.New("a private /proc needs pidfds (Linux 5.2)"), true}
	}
	ns, err := unix.IoctlRetInt(pidfd, unix.PIDFD_GET_PID_NAMESPACE)
	if err != nil {
		return -1, &procError{fmt.Errorf("the command's pid namespace (PIDFD_GET_PID_NAMESPACE, Linux 6.11): %w", err), err == unix.ENOTTY || err == unix.EINVAL}
	}
	defer unix.Close(ns)
	fs, err := unix.Fsopen("proc", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, &procError{fmt.Errorf("a /proc for the command: fsopen: %w", err), err == unix.ENOSYS}
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetFd(fs, "pidns", ns); err != nil {
		return -1, &procError{fmt.Errorf("a /proc for the command's pid namespace (option pidns, Linux 6.15): %w", err), err == unix.EINVAL}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, &procError{fmt.Errorf("a /proc for the command: %w", err), err == unix.EPERM}
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, &procError{fmt.Errorf("a /proc for the command: fsmount: %w", err), false}
	}
	return mnt, nil
}

// boxInit is a box's init (verbInit), the pid 1 of the box's namespace:
// descriptor 3 is its socket to the zygote. It waits for the zygote's
// requests and, for each, empties the namespace (see the comment at the
// top of this file) and answers. It returns when the zygote closes the
// socket (or dies: then the kernel kills it, SIGKILL at its parent's
// death).
func boxInit() error {
	runtime.LockOSThread()
	// No ptrace, no /proc/1/fd, environ, root or cwd for the commands.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("box init: %w", err)
	}
	// CAP_SYS_ADMIN (for ns_last_pid) and nothing else.
	unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{{Effective: 1 << unix.CAP_SYS_ADMIN, Permitted: 1 << unix.CAP_SYS_ADMIN}}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("box init: %w", err)
	}
	// A signal a command sends it must not end it (that would end the
	// namespace, the command with it, and the box).
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	const ctl = 3
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4))
	dir, last := -1, -1
	for {
		// Between commands: wait without the runtime's hand-offs (see
		// pollInRaw).
		if err := pollInRaw(ctl); err != nil {
			continue // EINTR: a preemption point, then again
		}
		n, oobn, _, _, err := unix.Recvmsg(ctl, buf, oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil || n == 0 {
			return nil
		}
		answer := []byte{boxClean}
		if buf[0] == boxProc {
			fds, _ := parseRights(oob[:oobn])
			for _, fd := range fds {
				if dir < 0 {
					dir, _ = unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
					last, _ = unix.Openat(fd, "sys/kernel/ns_last_pid", unix.O_WRONLY|unix.O_CLOEXEC, 0)
				}
				unix.Close(fd)
			}
			if !setLastPid(last) {
				answer[0] = boxDirty
			}
		} else if !emptyNamespace(dir, last) {
			answer[0] = boxDirty
		}
		for unix.Sendmsg(ctl, answer, nil, nil, unix.MSG_NOSIGNAL) == unix.EINTR {
		}
	}
}

// pollInRaw waits for fd to be readable, with ppoll(2) made as a raw
// system call: the Go runtime sees the goroutine running, so no thread
// hands its P to another meanwhile (see epollWaitRaw); a signal of the
// runtime (SIGURG, to preempt) ends the wait with EINTR, and the caller
// calls it again, a preemption point (hence noinline).
//
//go:noinline
func pollInRaw(fd int) error {
	fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	_, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, 0, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// emptyNamespace kills every process of the init's pid namespace but the
// init, reaps them, and reports whether the namespace's /proc (dir) then
// lists the init alone and its last pid (the file last) could be set to
// boxLastPid. Mostly there is nothing to kill: a /proc that lists the
// init alone is enough (the namespace's processes are the init's
// descendants; a process the init has not reaped is listed).
func emptyNamespace(dir, last int) bool {
	if dir < 0 || last < 0 {
		return false
	}
	if alone, err := onlyInit(dir); err != nil {
		return false
	} else if alone {
		return setLastPid(last)
	}
	unix.Kill(-1, unix.SIGKILL)
	for {
		_, err := unix.Wait4(-1, nil, unix.WALL, nil)
		if err == unix.ECHILD {
			break
		}
		if err != nil && err != unix.EINTR {
			return false
		}
	}
	if alone, err := onlyInit(dir); err != nil || !alone {
		return false
	}
	return setLastPid(last)
}

// onlyInit reports whether the /proc dir lists no process but pid 1.
func onlyInit(dir int) (bool, error) {
	if _, err := unix.Seek(dir, 0, 0); err != nil {
		return false, err
	}
	var buf [4096]byte
	for {
		n, err := unix.Getdents(dir, buf[:])
		if err != nil {
			return false, err
		}
		if n == 0 {
			return true, nil
		}
		for b := buf[:n]; len(b) > 0; {
			reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
			name := b[19:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			if len(name) > 0 && name[0] >= '0' && name[0] <= '9' && string(name) != "1" {
				return false, nil // a process is left
			}
			b = b[reclen:]
		}
	}
}

// boxLastPid is what a box's init sets its namespace's last pid to, so
// that each command it runs is pid boxLastPid+1, whatever ran before it
// in the box. Not 1 (a command pid 2, as under the per-action helper):
// the init's own threads, those of the Go runtime, have pids of the
// namespace too, made when they start, mostly at the init's start: the
// low ones. A thread started later takes the pid after the last
// command's, above boxLastPid+1.
const boxLastPid = 99

// setLastPid sets the namespace's last pid (its ns_last_pid file, last)
// to boxLastPid.
func setLastPid(last int) bool {
	if last < 0 {
		return false
	}
	_, err := unix.Pwrite(last, []byte(strconv.Itoa(boxLastPid)), 0)
	return err == nil
}
