package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"bld/exec/crash"
	"bld/exec/graph"
)

// The namespace recipe. Prepare planned the exec root (mountPlan): the
// inputs to bind, and the output directories, empty directories on disk
// that bld keeps for reuse. The executor starts the bld binary
// (os.Executable) as
//
//	argv: <action argv[0]> -bld-sandbox-helper exec <plan file> <program> <action argv...>
//	env:  exactly the action's environment
//	cwd:  /
//
// in a new user namespace (mapping the user's uid and gid to themselves, so
// files the command writes belong to the user and tools see the user's
// identity) and a new mount namespace, with CAP_SYS_ADMIN as an ambient
// capability so that it survives the exec of the helper. Main, called first
// thing by the binary, sees helperArg and, inside the namespace:
//
//  1. makes every mount private (MS_REC|MS_PRIVATE on /), so nothing
//     leaks back to the host;
//  2. mounts a tmpfs on FixedDir and creates execroot/ in it: the exec
//     root, which no other process sees and which disappears with the
//     namespace;
//  3. binds each output directory of the plan on its place in the exec
//     root, and creates the parent directory of every output;
//  4. bind-mounts the workspace on its own path, read-only, and binds each
//     input from that read-only view onto an empty file or directory of
//     its kind at its place in the exec root (a bind of a read-only mount
//     is read-only);
//  5. mounts an empty read-only tmpfs over the workspace's path, which
//     covers the view of step 4: the command sees its inputs as the
//     regular files and directories they are, and no other workspace
//     file, by any path (a relative path out of the exec root, the real
//     path of an input, the checkout's path lead nowhere);
//  6. changes to FixedExecRoot, drops its capabilities (dropCapabilities:
//     the command has none, even when the user is root) and execs the
//     program (resolved on the host, by ExecRoot.program, as the action key
//     resolves it) with the environment and descriptors it was given.
//
// The helper's pid is the command's pid: it leads the process group the
// executor kills on Ctrl-C.
//
// That is the per-action helper, the fallback. Normally the zygote
// (zygote_linux.go) runs the same recipe: step 1 once, for its whole life,
// and the read-only view of step 4 once too, in its own namespace
// (mountView: the output directories' parent Dir(root) stays writable
// in it, as their binds of step 3 come from it); steps 2 to 5 but that
// view per command, on a serving thread after unshare(CLONE_NEWNS),
// whose copy of the zygote's namespace has the view, or in a namespace it
// reuses (a slot, whose workspace step 5 hid once: binds reach the view
// through a descriptor, and its exec roots are directories of one tmpfs of
// the slot); step 6 by forking the command from that thread. With a pid
// namespace, the command itself is the namespace's pid 1 (no helper
// init), and the zygote mounts a /proc of that namespace for it before
// it runs (zserver.privateProc), as the helper mounts its own.

// newProcAttr is what every sandboxed command needs: a process group of
// its own.
func newProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// namespaceProcAttr adds the namespaces and the identity mappings. With
// pidns, the helper also gets a pid namespace of its own, whose init it is
// (see runInit), and is killed with SIGKILL if bld dies: the kernel then
// kills every process of the namespace.
func namespaceProcAttr(pidns bool) *syscall.SysProcAttr {
	uid, gid := os.Getuid(), os.Getgid()
	attr := &syscall.SysProcAttr{
		Setpgid:     true,
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
		AmbientCaps: []uintptr{unix.CAP_SYS_ADMIN},
	}
	if pidns {
		attr.Cloneflags |= syscall.CLONE_NEWPID
		attr.Pdeathsig = syscall.SIGKILL
	}
	return attr
}

// namespaceCommand is ExecRoot.Command in ModeNamespace: the helper, to
// mount the plan in planFile and run the program at path (as the command
// will see it) with a's argv. With pidns, the command runs in a pid
// namespace of its own (runInit). exe is bld's own binary.
func namespaceCommand(ctx context.Context, exe, planFile, path string, a *graph.Action, pidns bool) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, exe)
	// argv[0] is the action's, so that ps and the jobserver (which
	// picks its style by program name) see the tool.
	cmd.Args = append([]string{a.Argv[0], helperArg, verbExec, planFile, path}, a.Argv...)
	cmd.Dir = "/"
	cmd.Env = a.Env[:len(a.Env):len(a.Env)]
	cmd.SysProcAttr = namespaceProcAttr(pidns)
	return cmd, nil
}

// probeNamespace checks that the namespace mode works for workspace root:
// the fixed paths can be used, and a helper can build the namespace (with
// pidns, in a pid namespace of its own with its own /proc).
func probeNamespace(ctx context.Context, root string, pidns bool) error {
	if err := checkFixedDir(root); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding bld's own binary: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, helperArg, verbProbe, root)
	cmd.Dir = "/"
	cmd.Env = []string{}
	cmd.SysProcAttr = namespaceProcAttr(pidns)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("user and mount namespaces: %w: %s", err, strings.TrimSpace(out.String()))
	}
	if strings.TrimSpace(out.String()) != probeOK {
		return fmt.Errorf("user and mount namespaces: the helper said %q (does the program call sandbox.Main?)", out.String())
	}
	return nil
}

// checkFixedDir makes sure FixedDir exists as a directory and that root
// does not contain it nor lie in it (a tmpfs over root would hide it).
func checkFixedDir(root string) error {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("workspace %s: %w", root, err)
	}
	for _, r := range []string{root, real} {
		if within(FixedDir, r) || within(r, FixedDir) {
			return fmt.Errorf("the workspace %s overlaps the sandbox's fixed path %s", root, FixedDir)
		}
	}
	if err := os.MkdirAll(FixedDir, 0o755); err != nil {
		return fmt.Errorf("creating the sandbox mount point: %w", err)
	}
	return nil
}

// within reports whether p is dir or lies inside it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// Main runs the sandbox helper and never returns if the process was started
// as one (argv[1] is helperArg); otherwise it returns at once. Programs that
// run sandboxed actions (bld, and the tests of packages that run them, in a
// TestMain) call it first thing.
func Main() {
	if len(os.Args) < 2 || os.Args[1] != helperArg {
		return
	}
	if err := helper(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "bld sandbox: %v\n", err)
		os.Exit(127)
	}
	os.Exit(0)
}

// helper sets up the namespace and, for verbExec, execs the command: it
// returns only on failure. For verbProbe it returns nil when the namespace
// is as it should be.
func helper(args []string) error {
	if len(args) < 1 || (args[0] == verbProbe && len(args) != 2) || (args[0] == verbExec && len(args) < 4) {
		return fmt.Errorf("helper: bad arguments %q", args)
	}
	var p mountPlan
	switch args[0] {
	case verbZygote:
		// verbZygote THREADS ROOT (ROOT may be "": see zygote.start).
		if len(args) != 3 {
			return fmt.Errorf("helper: bad arguments %q", args)
		}
		threads, err := strconv.Atoi(args[1])
		if err != nil || threads < 1 || threads > maxServingThreads {
			return fmt.Errorf("helper: bad count of serving threads %q", args[1])
		}
		return zygoteMain(args[2], threads)
	case verbProbe:
		p.Root = args[1]
	case verbExec:
		data, err := os.ReadFile(args[1])
		if err != nil {
			return fmt.Errorf("reading the exec root's plan: %w", err)
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return fmt.Errorf("reading the exec root's plan %s: %w", args[1], err)
		}
	default:
		return fmt.Errorf("helper: bad arguments %q", args)
	}
	if err := makeMountsPrivate(); err != nil {
		return err
	}
	if err := mountExecRoot(&p, viewNone, -1, -1, ""); err != nil {
		return err
	}
	// In a pid namespace of its own (pid 1), the /proc of the host would
	// show the host's pids: a command's $$ or getpid() would name another
	// process there.
	isInit := os.Getpid() == 1
	if isInit {
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mounting /proc for the pid namespace: %w", err)
		}
	}
	if err := os.Chdir(FixedExecRoot); err != nil {
		return err
	}
	if args[0] == verbProbe {
		return probeCheck(p.Root, isInit)
	}
	// Capabilities are per thread: the thread that drops them must be
	// the one that execs (or, in runInit, forks) the command.
	runtime.LockOSThread()
	if err := dropCapabilities(true); err != nil {
		return err
	}
	path, argv := args[2], args[3:]
	if isInit {
		return runInit(path, argv)
	}
	err := syscall.Exec(path, argv, os.Environ()) // returns only on failure
	return fmt.Errorf("exec %s: %w", argv[0], err)
}

// runInit runs the program at path as the only child of the helper, which
// is the init (pid 1) of the action's pid namespace, with the helper's
// environment and inherited descriptors (same numbers: the jobserver's);
// it reaps every process of the namespace that ends, and once the command
// has ended it exits with the command's exit status, or 128+N if a signal
// N killed it (as a shell reports it: an init cannot die of its own
// signal). When the init exits, the kernel kills with SIGKILL whatever
// else runs in the namespace, however it left the command's process group
// (setsid, a double fork), and the helper's exit is reported only once
// they are all gone.
//
// It returns only when the command could not be started.
func runInit(path string, argv []string) error {
	files, err := inheritedFiles()
	if err != nil {
		return err
	}
	// An init receives only the signals it handles. Take them (kill 0 in a
	// script reaches the helper, in the command's process group) and
	// ignore them: the command's end ends the action, and bld ends it with
	// SIGKILL. Handled signals, unlike ignored ones, are reset for the
	// command by exec.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM)
	crash.Go(func() {
		for range sigs {
		}
	})
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: os.Environ(), Files: files})
	if err != nil {
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", argv[0], err)
		}
		if wpid != pid || !(ws.Exited() || ws.Signaled()) {
			continue // an orphan of the namespace, reaped
		}
		if ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ws.ExitStatus())
	}
}

// inheritedFiles lists the descriptors the helper was given to pass on
// (open and not close-on-exec), at their numbers, for syscall.ProcAttr:
// closed numbers below the highest are ^uintptr(0).
func inheritedFiles() ([]uintptr, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("listing the inherited descriptors: %w", err)
	}
	var open []int
	top := -1
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue // the directory's own descriptor, or the runtime's
		}
		open = append(open, fd)
		top = max(top, fd)
	}
	files := make([]uintptr, top+1)
	for i := range files {
		files[i] = ^uintptr(0)
	}
	for _, fd := range open {
		files[fd] = uintptr(fd)
	}
	return files, nil
}

// makeMountsPrivate is step 1 of the recipe.
func makeMountsPrivate() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	return nil
}

// mountView makes the read-only view of the workspace root that step 4
// binds inputs from: the workspace bound on its own path, read-only, but
// for Dir(root), which holds the output directories, bound on itself
// first so that it stays writable. The zygote makes it once, in its own
// namespace, for the workspace of its Manager; every command's namespace,
// a copy of the zygote's, then has it. (The per-action helper binds the
// workspace alone, as its output directories are bound before the view
// exists.)
func mountView(root string) error {
	sb := Dir(root)
	if err := unix.Mount(sb, sb, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting the output directories: %w", err)
	}
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting the workspace: %w", err)
	}
	return remountReadOnly(root)
}

// How mountExecRoot finds the workspace's read-only view (step 4).
const (
	viewNone   = iota // not made: bind the workspace on itself first
	viewMade          // mountView made it, at p.Root
	viewHidden        // at viewFD, which stands for p.Root; p.Root is hidden already
)

// mountExecRoot does steps 2 to 5 of the recipe for p, in a mount
// namespace whose mounts are already private (step 1). view says whether
// the namespace already has mountView's view of p.Root: with viewHidden,
// the view is reached through viewFD (an O_PATH descriptor of the view's
// root, which lets binds reach a covered mount of the namespace), the
// output directories too (they lie in the workspace), and the workspace
// is hidden already: step 5 is not done. The binds from viewFD are made
// with open_tree(2) and move_mount(2), not through a path such as
// /proc/self/fd/N: in a slot, /proc is the last command's, which does not
// show the zygote.
//
// FixedDir gets a tmpfs of its own, or, when base >= 0, a new directory
// baseDir of the tmpfs base (a descriptor of its root), bound there: a
// slot's tmpfs, made once for all its commands, as making a file system
// (a superblock) and tearing it down costs more than a bind.
func mountExecRoot(p *mountPlan, view int, viewFD int, base int, baseDir string) error {
	if base >= 0 {
		if err := unix.Mkdirat(base, baseDir, 0o755); err != nil {
			return fmt.Errorf("making the exec root's tmpfs directory: %w", err)
		}
		if err := bindAt(base, baseDir, FixedDir, false); err != nil {
			return fmt.Errorf("binding the exec root's tmpfs directory on %s: %w", FixedDir, err)
		}
		// No size limit but the kernel's default (half the memory): what a
		// command writes outside its output directories lives here.
	} else if err := unix.Mount("tmpfs", FixedDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mounting a tmpfs on %s: %w", FixedDir, err)
	}
	if err := os.Mkdir(FixedExecRoot, 0o755); err != nil {
		return err
	}
	made := map[string]bool{FixedExecRoot: true} // directories of the exec root
	at := func(rel string) string { return filepath.Join(FixedExecRoot, filepath.FromSlash(rel)) }
	for _, b := range p.Outs {
		if err := mkdirs(at(b.Dir), made); err != nil {
			return fmt.Errorf("creating output directory %s: %w", b.Dir, err)
		}
		var err error
		if view == viewHidden {
			rel, ok := strings.CutPrefix(b.Pool, p.Root+"/")
			if !ok {
				return fmt.Errorf("output directory %s is not in the workspace", b.Pool)
			}
			err = bindAt(viewFD, rel, at(b.Dir), false)
		} else {
			err = unix.Mount(b.Pool, at(b.Dir), "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("binding output directory %s: %w", b.Dir, err)
		}
	}
	for _, d := range p.Dirs {
		if err := mkdirs(at(d), made); err != nil {
			return fmt.Errorf("creating output directory %s: %w", d, err)
		}
	}
	root := p.Root
	// The read-only view of the workspace is the workspace itself, bound
	// on its own path: the tmpfs of step 5 then covers it, where
	// unmounting a view elsewhere cost a few hundred microseconds (the
	// kernel waits for an RCU grace period on every unmount).
	if view == viewNone {
		if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mounting the workspace: %w", err)
		}
		if err := remountReadOnly(root); err != nil {
			return err
		}
	}
	for _, in := range p.Inputs {
		rel := filepath.FromSlash(in)
		src, dst := filepath.Join(root, rel), at(in)
		var st unix.Stat_t
		var err error
		if view == viewHidden {
			err = unix.Fstatat(viewFD, rel, &st, 0)
		} else {
			err = unix.Stat(src, &st)
		}
		if err != nil {
			return fmt.Errorf("input %s: %w", in, err)
		}
		if err := mkdirs(filepath.Dir(dst), made); err != nil {
			return fmt.Errorf("placing input %s in the exec root: %w", in, err)
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if err := makePlaceholder(dst, isDir); err != nil {
			return fmt.Errorf("placing input %s in the exec root: %w", in, err)
		}
		if view == viewHidden {
			err = bindAt(viewFD, rel, dst, isDir)
		} else {
			flags := uintptr(unix.MS_BIND)
			if isDir {
				flags |= unix.MS_REC
			}
			err = unix.Mount(src, dst, "", flags, "")
		}
		if err != nil {
			return fmt.Errorf("showing input %s: %w", in, err)
		}
	}
	if view == viewHidden {
		return nil
	}
	return hideWorkspace(root)
}

// bindAt binds rel, relative to the directory dirfd, on dst (with the
// mounts under it when rec): a bind mount, made from a descriptor rather
// than a path.
func bindAt(dirfd int, rel, dst string, rec bool) error {
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	if rec {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(dirfd, rel, uint(flags))
	if err != nil {
		return err
	}
	err = unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH)
	unix.Close(fd)
	return err
}

// hideWorkspace is step 5: an empty read-only tmpfs over the workspace's
// path.
func hideWorkspace(root string) error {
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "size=4k"); err != nil {
		return fmt.Errorf("hiding the workspace: %w", err)
	}
	return nil
}

// mkdirs creates the directory dir of the exec root and its missing
// parents, as os.MkdirAll does, but without a stat per level: made lists
// the directories already there (it adds those it creates), so a parent
// that is not in it is made first (the exec root is a fresh tmpfs: what
// made does not list is missing, or a mount point, which mkdir(2) says
// exists).
func mkdirs(dir string, made map[string]bool) error {
	if made[dir] {
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirs(parent, made); err != nil {
			return err
		}
	}
	err := unix.Mkdir(dir, 0o755)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if unix.Stat(dir, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = nil
		}
	}
	if err != nil {
		return &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	made[dir] = true
	return nil
}

// makePlaceholder creates at p an empty directory if dir, else an empty
// regular file (mknod(2): one system call, where open and close are two;
// it fails, as O_EXCL does, if p exists).
func makePlaceholder(p string, dir bool) error {
	if dir {
		return unix.Mkdir(p, 0o755)
	}
	return unix.Mknod(p, unix.S_IFREG|0o644, 0)
}

// remountReadOnly makes the bind mount at target read-only, keeping the
// flags the kernel locks in a user namespace (nosuid, nodev, noexec, atime).
func remountReadOnly(target string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", target, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("making the workspace read-only: %w", err)
	}
	return nil
}

// probeCheck verifies the namespace the probe built: the exec root is the
// working directory, FixedDir holds nothing else, and the workspace is
// hidden at its own path.
func probeCheck(root string, inPidns bool) error {
	if inPidns {
		if self, err := os.Readlink("/proc/self"); err != nil || self != "1" {
			return fmt.Errorf("/proc does not show the pid namespace: /proc/self is %q (%v)", self, err)
		}
	}
	if entries, err := os.ReadDir(FixedDir); err != nil || len(entries) != 1 {
		return fmt.Errorf("%s holds more than the exec root", FixedDir)
	}
	entries, err := os.ReadDir(root)
	if err != nil || len(entries) != 0 {
		return fmt.Errorf("the workspace is still visible at %s", root)
	}
	fmt.Println(probeOK)
	return nil
}

// emptyDir deletes what d, an output directory of the pool (takeDir),
// holds and reports whether d is now an empty directory with mode 0755, as
// takeDir made it. The common case, nothing left beside the outputs that
// Collect moved, costs open, fstat, two getdents64 (the second says the
// end) and close: no os.File, whose open also tries the runtime's poller
// (an epoll_ctl) and whose Close goes through it.
func emptyDir(d string) bool {
	fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode != unix.S_IFDIR|0o755 {
		return false
	}
	var buf [2048]byte
	var names []string // read whole before anything is deleted
	for {
		n, err := unix.Getdents(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false
		}
		if n == 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names) // not "." or ".."
	}
	for _, n := range names {
		if RemoveAll(filepath.Join(d, n)) != nil {
			return false
		}
	}
	return true
}
