package executor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"bld/exec/sandbox"
)

// Each action's command runs in a process group of its own, so that Ctrl-C
// kills everything it started. But when bld itself is killed with SIGKILL
// (or the machine's OOM killer picks it), nobody kills those groups: they go
// on writing into bld-out/ while the next build runs the same actions again.
//
// So each build keeps a journal in Options.ProcessDir, <bld's pid>-<random>.groups:
// a line "+PGID" when a command's group starts and "-PGID" once its leader
// has been waited for, appended (a write each, where a file per group cost
// a file creation and a removal, a millisecond or more on a loaded
// machine). A build that ends removes its journal; KillLeftovers, called by
// the next build before it starts anything, kills the groups that a
// journal left behind says were still running.

// journalSuffix ends the name of a build's journal of process groups.
const journalSuffix = ".groups"

// groupJournal is the journal of one Run. Its methods are safe for
// concurrent use; a journal with an empty dir records nothing.
type groupJournal struct {
	dir  string
	mu   sync.Mutex
	f    *os.File
	err  error
	path string
}

func newGroupJournal(dir string) *groupJournal {
	// The pid names the build; the random part keeps two Runs of one
	// process (tests) apart.
	name := strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64(), 36) + journalSuffix
	return &groupJournal{dir: dir, path: filepath.Join(dir, name)}
}

// track records the running process group pgid; the returned function
// records its end. Failures to write only weaken KillLeftovers.
func (j *groupJournal) track(pgid int) (untrack func()) {
	if j.dir == "" {
		return func() {}
	}
	j.write('+', pgid)
	return func() { j.write('-', pgid) }
}

func (j *groupJournal) write(op byte, pgid int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil && j.err == nil {
		j.f, j.err = os.OpenFile(j.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	}
	if j.f != nil {
		// One write(2) per line: appended whole, never torn between
		// two writes.
		var buf [24]byte
		j.f.Write(append(strconv.AppendInt(append(buf[:0], op), int64(pgid), 10), '\n'))
	}
}

// close removes the journal: every group it recorded has ended.
func (j *groupJournal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		os.Remove(j.path)
		j.f = nil
	}
}

// runningGroups returns the process groups a journal says were still
// running when it was last written.
func runningGroups(data []byte) []int {
	running := map[int]bool{}
	var order []int
	for _, line := range strings.Split(string(data), "\n") {
		if len(line) < 2 {
			continue // also a torn last line of one byte
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		switch line[0] {
		case '+':
			if !running[pgid] {
				order = append(order, pgid)
			}
			running[pgid] = true
		case '-':
			running[pgid] = false
		}
	}
	var out []int
	for _, pgid := range order {
		if running[pgid] {
			out = append(out, pgid)
		}
	}
	return out
}

// KillLeftovers kills the process groups that a previous build, killed
// before it could clean up, recorded in dir as running, and removes its
// journal (and any record an older bld left: a file named by the group). It
// returns how many groups it killed. A group is killed only if its leader
// still runs in root, in one of root's exec roots, or in the namespace
// sandbox's fixed exec root (its working directory), so that a process group
// ID reused by an unrelated program is left alone.
//
// The caller must ensure no other build uses dir at the same time (bld
// holds the workspace lock).
func KillLeftovers(dir, root string) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", dir, err)
	}
	killed := 0
	for _, e := range entries {
		var groups []int
		name := filepath.Join(dir, e.Name())
		if strings.HasSuffix(e.Name(), journalSuffix) {
			data, err := os.ReadFile(name)
			if err != nil {
				return killed, fmt.Errorf("reading %s: %w", name, err)
			}
			groups = runningGroups(data)
		} else if pgid, err := strconv.Atoi(e.Name()); err == nil && pgid > 1 {
			groups = []int{pgid}
		} else {
			continue
		}
		for _, pgid := range groups {
			if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pgid)); err == nil && ranHere(cwd, root) {
				if syscall.Kill(-pgid, syscall.SIGKILL) == nil {
					killed++
				}
			}
		}
		os.Remove(name)
	}
	return killed, nil
}

// ranHere reports whether a process with working directory cwd may be a
// command that a build in root started.
func ranHere(cwd, root string) bool {
	return cwd == root || cwd == sandbox.FixedExecRoot || strings.HasPrefix(cwd, sandbox.Dir(root)+"/")
}
