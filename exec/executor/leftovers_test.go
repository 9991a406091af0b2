package executor

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The journal of a Run says which groups run, at any moment, to a reader
// of its file: it is mapped, so that a build killed with SIGKILL leaves it
// as it was. It grows past its first page.
func TestGroupJournal(t *testing.T) {
	dir := t.TempDir()
	j := newGroupJournal(dir)
	read := func() []int {
		t.Helper()
		data, err := os.ReadFile(j.path)
		if err != nil {
			t.Fatal(err)
		}
		got := runningGroups(data)
		slices.Sort(got)
		return got
	}
	var want []int
	untrack := map[int]func(){}
	for pgid := 100; pgid < 100+2*journalSlots+5; pgid++ {
		untrack[pgid] = j.track(pgid)
		want = append(want, pgid)
	}
	if j.mapped == nil {
		t.Fatal("the journal is not mapped")
	}
	if diff := cmp.Diff(want, read()); diff != "" {
		t.Errorf("running groups (-want +got):\n%s", diff)
	}
	// Ended groups free their slots, which later groups reuse.
	var left []int
	for _, pgid := range want {
		if pgid%3 == 0 {
			untrack[pgid]()
		} else {
			left = append(left, pgid)
		}
	}
	size := len(j.mapped)
	for pgid := 5000; pgid < 5010; pgid++ {
		j.track(pgid)
		left = append(left, pgid)
	}
	if len(j.mapped) != size {
		t.Errorf("the journal grew from %d to %d bytes with free slots", size, len(j.mapped))
	}
	if diff := cmp.Diff(left, read()); diff != "" {
		t.Errorf("running groups after some ended (-want +got):\n%s", diff)
	}
	j.close()
	if _, err := os.Stat(j.path); !os.IsNotExist(err) {
		t.Errorf("the journal is still there after close: %v", err)
	}
}

// KillLeftovers reads journals of both forms: the mapped slots, and the
// lines an older bld (or a file system that cannot map) appended.
func TestRunningGroupsOfLines(t *testing.T) {
	got := runningGroups([]byte("+5\n+6\n-5\n+7\n+1\n-8\n+9"))
	if diff := cmp.Diff([]int{6, 7, 9}, got); diff != "" {
		t.Errorf("running groups (-want +got):\n%s", diff)
	}
}

// A build killed before it closed its journal leaves it; the next build's
// KillLeftovers kills the groups it lists that still run in the
// workspace, and removes it.
func TestKillLeftoversOfMappedJournal(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", "sleep 60")
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	j := newGroupJournal(dir)
	j.track(cmd.Process.Pid)
	j.track(99999999) // no such group
	ended := j.track(2)
	ended()
	// The build is killed: nothing closes j.
	killed, err := KillLeftovers(dir, root)
	if err != nil || killed != 1 {
		t.Errorf("KillLeftovers = %d, %v; want 1 group killed", killed, err)
	}
	if err := <-done; err == nil {
		t.Errorf("the leftover command was not killed")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("files left in the process directory: %v", m)
	}
}
