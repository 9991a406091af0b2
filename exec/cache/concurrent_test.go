package cache

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"bld/exec/graph"
	"bld/exec/store"
)

// concurrentWorkload builds, in workspace root, a graph shared by every
// worker (identical actions, racing on the same keys and blobs) plus
// actions of its own, cleaning bld-out/ between rounds, and checks every
// output every round. Failures are reported through t.
func concurrentWorkload(t testing.TB, dir, root string, worker, rounds int) {
	shared, files := manyActions(root, 12, 3000)
	own := map[string]string{}
	for i := 0; i < 4; i++ {
		own[fmt.Sprintf("mine/%d.c", i)] = fmt.Sprintf("worker %d file %d\n", worker, i)
	}
	for k, v := range own {
		files[k] = v
	}
	writeFiles(t, root, files)
	actions := append([]*graph.Action(nil), shared...)
	for i := 0; i < 4; i++ {
		src := fmt.Sprintf("mine/%d.c", i)
		actions = append(actions, &graph.Action{
			Owner: "//mine:" + strconv.Itoa(i), Argv: []string{"cc", src},
			Inputs: []string{src, shared[i].Outputs[0]}, Outputs: []string{fmt.Sprintf("bld-out/mine/%d.o", i)},
		})
	}
	for round := 0; round < rounds; round++ {
		c, err := Open(openStore(t, dir, store.Options{MaxSize: -1}), root, Options{})
		if err != nil {
			t.Fatal(err)
		}
		build(t, c, root, actions)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		expectOutputs(t, root, actions, files)
		if err := os.RemoveAll(filepath.Join(root, "bld-out")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		root := t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			concurrentWorkload(t, dir, root, w, 3)
		}()
	}
	wg.Wait()
	if rep, err := openStore(t, dir).Verify(); err != nil || !rep.OK() {
		t.Errorf("Verify: %+v, %v", rep, err)
	}
}

// One Cache shared by goroutines of one build.
func TestConcurrentOneCache(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	actions, files := manyActions(root, 40, 1000)
	writeFiles(t, root, files)
	c := openCache(t, dir, root, Options{})
	for round := 0; round < 2; round++ {
		var wg sync.WaitGroup
		for i := range actions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				build(t, c, root, actions[i:i+1])
			}()
		}
		wg.Wait()
		expectOutputs(t, root, actions, files)
		os.RemoveAll(filepath.Join(root, "bld-out"))
	}
	closeCache(t, c)
	s, _ := c.store.Stats()
	if last := s.Builds[len(s.Builds)-1]; last.Hits != len(actions) || last.Misses != len(actions) {
		t.Errorf("stats %+v, want %d hits and misses", last, len(actions))
	}
}

// TestConcurrentProcesses runs 4 processes (this test binary, re-executed)
// building at once on one cache directory.
func TestConcurrentProcesses(t *testing.T) {
	if os.Getenv("BLD_CACHE_TEST_WORKER") != "" {
		return // only the helper runs in workers
	}
	dir := t.TempDir()
	var cmds []*exec.Cmd
	for w := 0; w < 4; w++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BLD_CACHE_TEST_WORKER="+strconv.Itoa(w),
			"BLD_CACHE_TEST_DIR="+dir, "BLD_CACHE_TEST_ROOT="+t.TempDir())
		cmds = append(cmds, cmd)
	}
	outs := make([][]byte, len(cmds))
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range cmds {
		if errs[i] != nil {
			t.Errorf("worker %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	st := openStore(t, dir)
	if rep, err := st.Verify(); err != nil || !rep.OK() {
		t.Errorf("Verify: %+v, %v", rep, err)
	}
	s, err := st.Stats()
	if err != nil || len(s.Builds) != 4*3 {
		t.Errorf("stats recorded %d builds, want 12 (%v)", len(s.Builds), err)
	}
}

func TestWorkerProcess(t *testing.T) {
	w := os.Getenv("BLD_CACHE_TEST_WORKER")
	if w == "" {
		t.Skip("run by TestConcurrentProcesses")
	}
	n, _ := strconv.Atoi(w)
	concurrentWorkload(t, os.Getenv("BLD_CACHE_TEST_DIR"), os.Getenv("BLD_CACHE_TEST_ROOT"), n, 3)
}
