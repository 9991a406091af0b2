package store

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"bld/exec/digest"
)

// concurrentWorkload does, rounds times, what builds sharing a store do:
// for 12 results shared by every worker and 4 of its own, it restores the
// result if it is there (verifying what it got) and stores it if not,
// while trimming now and then. Failures are reported through t.
func concurrentWorkload(t testing.TB, dir string, worker, rounds int) {
	work := t.TempDir()
	type result struct {
		key     string
		content string
	}
	var results []result
	for i := range 12 {
		results = append(results, result{keyOf(fmt.Sprint("shared ", i)), fmt.Sprintf("shared %d %03000d\n", i, 0)})
	}
	for i := range 4 {
		results = append(results, result{keyOf(fmt.Sprint("own ", worker, i)), fmt.Sprintf("worker %d own %d\n", worker, i)})
	}
	for round := range rounds {
		s, err := Open(dir, Options{MaxSize: -1})
		if err != nil {
			t.Fatal(err)
		}
		hits, misses := 0, 0
		for i, r := range results {
			dest := filepath.Join(work, fmt.Sprint(round), fmt.Sprint(i))
			e, err := s.GetEntry(r.key)
			if err == nil {
				if len(e.Refs) != 1 || string(e.Payload) != e.Refs[0].String() {
					t.Fatalf("worker %d: entry %+v does not name its one blob", worker, e)
				}
				_, _, err = s.Restore(e.Refs[0], dest, "", 0o644)
			}
			switch {
			case err == nil:
				hits++
				if got, _ := os.ReadFile(dest); string(got) != r.content {
					t.Errorf("worker %d: restored %.40q, want %.40q", worker, got, r.content)
				}
				continue
			case !errors.Is(err, ErrMissing) && !errors.Is(err, ErrCorrupt):
				t.Errorf("worker %d: %v", worker, err)
			}
			misses++
			writeFile(t, dest, r.content, 0o644)
			d, _, err := s.PutFile(dest)
			if err == nil {
				err = s.PutEntry(r.key, []byte(d.String()), []digest.Digest{d})
			}
			// A trim may be running, or have removed the blob just
			// stored: the store then declines the entry rather than
			// keep one that refers to nothing.
			if err != nil && !errors.Is(err, ErrNotStored) {
				t.Errorf("worker %d: storing: %v", worker, err)
			}
		}
		if round == 1 {
			if _, err := s.Trim(20000); err != nil {
				t.Errorf("worker %d: Trim: %v", worker, err)
			}
		}
		if err := s.RecordBuild(hits, misses); err != nil {
			t.Errorf("worker %d: %v", worker, err)
		}
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			concurrentWorkload(t, dir, w, 3)
		}()
	}
	wg.Wait()
	if rep, err := openStore(t, dir, Options{}).Verify(); err != nil || !rep.OK() {
		t.Errorf("Verify: %+v, %v", rep, err)
	}
}

// TestConcurrentProcesses runs 4 processes (this test binary, re-executed)
// using one store directory at once.
func TestConcurrentProcesses(t *testing.T) {
	if os.Getenv("BLD_STORE_TEST_WORKER") != "" {
		return // only the helper runs in workers
	}
	dir := t.TempDir()
	var cmds []*exec.Cmd
	for w := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BLD_STORE_TEST_WORKER="+strconv.Itoa(w), "BLD_STORE_TEST_DIR="+dir)
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
	s := openStore(t, dir, Options{})
	if rep, err := s.Verify(); err != nil || !rep.OK() {
		t.Errorf("Verify: %+v, %v", rep, err)
	}
	st, err := s.Stats()
	if err != nil || len(st.Builds) != 4*3 {
		t.Errorf("stats recorded %d builds, want 12 (%v)", len(st.Builds), err)
	}
}

func TestWorkerProcess(t *testing.T) {
	w := os.Getenv("BLD_STORE_TEST_WORKER")
	if w == "" {
		t.Skip("run by TestConcurrentProcesses")
	}
	n, _ := strconv.Atoi(w)
	concurrentWorkload(t, os.Getenv("BLD_STORE_TEST_DIR"), n, 3)
}
