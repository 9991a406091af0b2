package executor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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
// So each build keeps a journal in Options.ProcessDir, <bld's pid>-<random>.groups,
// of the process groups running. A build that ends removes its journal;
// KillLeftovers, called by the next build before it starts anything, kills
// the groups that a journal left behind says were still running.
//
// The journal is a file mapped into memory (MAP_SHARED): the header
// slotsHeader, then slots of 8 bytes, each the process group ID of a
// running command (little-endian) or 0 for a free slot. Recording a
// group's start or end is a store into memory, not a system call (on a
// build of a thousand trivial commands, two writes per command were a
// noticeable part of bld's own CPU): the kernel keeps the mapped pages of
// a process killed with SIGKILL, which is all the journal is for (a
// machine that crashes leaves no process running). Where the file cannot
// be mapped, the journal is appended to instead, as it used to be: a line
// "+PGID" when a group starts and "-PGID" once its leader has been waited
// for, a write(2) each. KillLeftovers reads both forms.

// journalSuffix ends the name of a build's journal of process groups.
const journalSuffix = ".groups"

// slotsHeader starts a mapped journal; it is followed by its slots.
const slotsHeader = "bld-groups 2\n\x00\x00\x00"

// journalSlots is how many slots a mapped journal starts with (a page).
const journalSlots = (4096 - len(slotsHeader)) / 8

// groupJournal is the journal of one Run. Its methods are safe for
// concurrent use; a journal with an empty dir records nothing.
type groupJournal struct {
	dir  string
	mu   sync.Mutex
	f    *os.File
	err  error
	path string
	// mapped is the whole file, mapped, when it could be; else the
	// journal is appended to through f.
	mapped []byte
	free   []int // slots free for reuse, below next
	next   int   // slots [0, next) have been used
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
	j.mu.Lock()
	defer j.mu.Unlock()
	j.openLocked()
	if j.mapped != nil {
		slot, ok := j.slotLocked()
		if !ok {
			// It could not grow: the group goes unrecorded.
			return func() {}
		}
		j.setLocked(slot, uint64(pgid))
		return func() {
			j.mu.Lock()
			defer j.mu.Unlock()
			j.setLocked(slot, 0)
			j.free = append(j.free, slot)
		}
	}
	j.appendLocked('+', pgid)
	return func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		j.appendLocked('-', pgid)
	}
}

// openLocked creates the journal, mapped if it can be, once.
func (j *groupJournal) openLocked() {
	if j.f != nil || j.err != nil {
		return
	}
	j.f, j.err = os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if j.err != nil {
		return
	}
	// Written, not truncated to size: the file's blocks exist before it
	// is mapped, so that a store into the mapping never needs one (on a
	// full disk, that would be a SIGBUS; here, a failed write and the
	// appended journal).
	size := len(slotsHeader) + journalSlots*8
	page := make([]byte, size)
	copy(page, slotsHeader)
	if _, err := j.f.Write(page); err != nil {
		j.f.Truncate(0)
		return
	}
	m, err := mapFile(j.f, size)
	if err != nil {
		j.f.Truncate(0)
		return
	}
	j.mapped = m
}

// slotLocked returns a free slot of the mapped journal, growing it if it
// must; false if it cannot.
func (j *groupJournal) slotLocked() (int, bool) {
	if n := len(j.free); n > 0 {
		slot := j.free[n-1]
		j.free = j.free[:n-1]
		return slot, true
	}
	if len(slotsHeader)+(j.next+1)*8 > len(j.mapped) {
		// Twice the slots, appended as zeros (free slots) before they
		// are mapped, as openLocked does.
		grow := len(j.mapped) - len(slotsHeader)
		if _, err := j.f.Write(make([]byte, grow)); err != nil {
			j.f.Truncate(int64(len(j.mapped)))
			return 0, false
		}
		m, err := mapFile(j.f, len(j.mapped)+grow)
		if err != nil {
			return 0, false
		}
		unmapFile(j.mapped)
		j.mapped = m
	}
	j.next++
	return j.next - 1, true
}

// setLocked stores pgid (0: free) in slot.
func (j *groupJournal) setLocked(slot int, pgid uint64) {
	binary.LittleEndian.PutUint64(j.mapped[len(slotsHeader)+slot*8:], pgid)
}

// appendLocked appends the line of op ('+' or '-') and pgid to the
// journal, which could not be mapped.
func (j *groupJournal) appendLocked(op byte, pgid int) {
	if j.f == nil {
		return
	}
	// One write(2) per line, at the end: appended whole, never torn
	// between two writes.
	var buf [24]byte
	j.f.Write(append(strconv.AppendInt(append(buf[:0], op), int64(pgid), 10), '\n'))
}

// close removes the journal: every group it recorded has ended.
func (j *groupJournal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.mapped != nil {
		unmapFile(j.mapped)
		j.mapped = nil
	}
	if j.f != nil {
		j.f.Close()
		os.Remove(j.path)
		j.f = nil
	}
}

// runningGroups returns the process groups a journal says were still
// running when it was last written, in either form.
func runningGroups(data []byte) []int {
	if slots, ok := bytes.CutPrefix(data, []byte(slotsHeader)); ok {
		var out []int
		for ; len(slots) >= 8; slots = slots[8:] {
			if pgid := binary.LittleEndian.Uint64(slots); pgid > 1 && pgid <= math.MaxInt32 {
				out = append(out, int(pgid))
			}
		}
		return out
	}
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
