package heapgoal

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// HugePages leaves the heap's next allocations in memory advised huge
// pages: a large allocation made after it lies in a mapping whose flags
// say so (hg in /proc/self/smaps) from its first 2 MiB boundary on (what
// lies before the first boundary is not advised).
//
// It runs in a process of its own (the test binary again), as at the start
// of a command: in one whose heap earlier tests left with holes, the
// allocation may take a hole below the advised pages.
func TestHugePages(t *testing.T) {
	if os.Getenv("BLD_TEST_HUGEPAGES") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHugePages$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "BLD_TEST_HUGEPAGES=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		if strings.Contains(string(out), "--- SKIP") {
			t.Skipf("%s", out)
		}
		return
	}
	if runtime.GOOS != "linux" || !adviceGivesHugePages() {
		if HugePages(16 << 20) {
			t.Fatal("HugePages advised where the advice changes nothing")
		}
		t.Skip("transparent huge pages are not given on advice here")
	}
	if HugePages(hugePageSize - 1) {
		t.Error("HugePages advised less than one huge page")
	}
	if !HugePages(16 << 20) {
		t.Fatal("HugePages(16 MiB) did not advise")
	}
	b := make([]byte, 4<<20)
	flags, err := vmFlags(uintptr(unsafe.Pointer(&b[hugePageSize])))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("the second 2 MiB of a 4 MiB allocation after HugePages lie in a mapping with flags %q, want hg among them", flags)
	}
	runtime.KeepAlive(b)
}

// vmFlags returns the VmFlags line of the mapping of this process that
// holds address p (/proc/self/smaps).
func vmFlags(p uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= p && p < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping of /proc/self/smaps holds %#x", p)
}
