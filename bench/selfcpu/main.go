//go:build linux

// Command selfcpu runs a command and reports what its own process used,
// all its threads but none of its child processes: its CPU time
// (task-clock), its context switches and its system calls, counted by perf
// events that threads inherit and child processes do not (inherit_thread,
// Linux 5.13), plus the CPU time of its waited-for children. For bld, that
// is bld's own cost of running a build, apart from its commands'; `perf
// stat --no-inherit` counts only the main thread of a Go program.
//
//	go build -o /tmp/selfcpu ./bench/selfcpu
//	EVENTS=newfstatat,write /tmp/selfcpu bld build -j2 --sandbox=off //...
//
// It prints, on stderr, one line "SELFCPU self=MS csw=N syscalls=N
// children=MS wall=MS exit=N", and before it "SYSCALL NAME N" for each
// system call named in $EVENTS (tracepoints syscalls:sys_enter_NAME).
// Needs perf events (perf_event_paranoid low enough, or root).
package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	bitDisabled      = 1 << 0
	bitInherit       = 1 << 1
	bitEnableOnExec  = 1 << 12
	bitInheritThread = 1 << 35
)

// open opens a counting event on pid that its threads inherit, enabled
// when pid execs; -1 if it cannot.
func open(pid int, typ uint32, config uint64) int {
	attr := unix.PerfEventAttr{Type: typ, Config: config, Bits: bitDisabled | bitInherit | bitEnableOnExec | bitInheritThread}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, pid, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		fmt.Fprintln(os.Stderr, "selfcpu: perf_event_open:", err)
		return -1
	}
	return fd
}

func read(fd int) uint64 {
	if fd < 0 {
		return 0
	}
	var b [8]byte
	unix.Read(fd, b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// tracepoint returns the ID of a tracepoint, such as raw_syscalls/sys_enter.
func tracepoint(name string) (uint64, error) {
	id, err := os.ReadFile("/sys/kernel/tracing/events/" + name + "/id")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(id)), 10, 64)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: selfcpu COMMAND [ARG...]")
		os.Exit(2)
	}
	// sh waits for a line, then execs the command: the events are opened
	// on it before, and enabled by that exec.
	cmd := exec.Command("/bin/sh", append([]string{"-c", `read x; exec "$@"`, "sh"}, os.Args[1:]...)...)
	stdin, _ := cmd.StdinPipe()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "selfcpu:", err)
		os.Exit(1)
	}
	pid := cmd.Process.Pid
	clk := open(pid, unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_TASK_CLOCK)
	csw := open(pid, unix.PERF_TYPE_SOFTWARE, unix.PERF_COUNT_SW_CONTEXT_SWITCHES)
	sc := -1
	if id, err := tracepoint("raw_syscalls/sys_enter"); err == nil {
		sc = open(pid, unix.PERF_TYPE_TRACEPOINT, id)
	}
	var names []string
	var fds []int
	if ev := os.Getenv("EVENTS"); ev != "" {
		for _, name := range strings.Split(ev, ",") {
			id, err := tracepoint("syscalls/sys_enter_" + name)
			if err != nil {
				fmt.Fprintln(os.Stderr, "selfcpu:", err)
				continue
			}
			names = append(names, name)
			fds = append(fds, open(pid, unix.PERF_TYPE_TRACEPOINT, id))
		}
	}
	t0 := time.Now()
	stdin.Write([]byte("go\n"))
	stdin.Close()
	// Waited for without reaping, so that /proc still has its children's times.
	var si unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		fmt.Fprintln(os.Stderr, "selfcpu:", err)
		os.Exit(1)
	}
	wall := time.Since(t0)
	var children int64
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 14 {
			cu, _ := strconv.ParseInt(f[13], 10, 64)
			cs, _ := strconv.ParseInt(f[14], 10, 64)
			children = (cu + cs) * 10 // clock ticks of 10 ms
		}
	}
	cmd.Wait()
	for i, name := range names {
		fmt.Fprintf(os.Stderr, "SYSCALL %s %d\n", name, read(fds[i]))
	}
	fmt.Fprintf(os.Stderr, "SELFCPU self=%.1f csw=%d syscalls=%d children=%d wall=%d exit=%d\n",
		float64(read(clk))/1e6, read(csw), read(sc), children, wall.Milliseconds(), cmd.ProcessState.ExitCode())
	os.Exit(cmd.ProcessState.ExitCode())
}
