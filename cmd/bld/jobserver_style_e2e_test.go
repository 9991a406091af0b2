package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"bld/exec/jobserver"
)

// fifoClientEnv, when set, makes this test binary a jobserver client that,
// like ninja 1.13, reads only the fifo style: given the pipe style it says
// "Ignoring jobserver: Pipe-based protocol is not supported!" and runs all
// its units at once, as ninja then runs its own -j.
const fifoClientEnv = "BLD_TEST_FIFO_CLIENT"

// fifoClientMain runs $CLIENT_UNITS units of 0.3 s, each logged to
// $CLIENT_LOG as peakConcurrency reads it, each holding a token of the
// jobserver when it takes the fifo style.
func fifoClientMain() int {
	units := 6
	log := os.Getenv("CLIENT_LOG")
	var acquire func() error
	release := func() {}
	if !strings.Contains(os.Getenv("MAKEFLAGS"), "--jobserver-auth=fifo:") {
		fmt.Println("ninja: warning: Ignoring jobserver: Pipe-based protocol is not supported!")
		acquire = func() error { return nil }
	} else {
		p, ok, err := jobserver.FromEnv(os.Environ())
		if err != nil || !ok {
			fmt.Printf("no jobserver: %v\n", err)
			return 1
		}
		defer p.Close()
		acquire = func() error { return p.Acquire(context.Background()) }
		release = p.Release
		fmt.Println("joined the fifo jobserver")
	}
	var mu sync.Mutex
	logLine := func(kind string) {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s %.6f\n", kind, float64(time.Now().UnixNano())/1e9)
			f.Close()
		}
	}
	var wg sync.WaitGroup
	failed := false
	for range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := acquire(); err != nil {
				mu.Lock()
				failed = true
				mu.Unlock()
				return
			}
			defer release()
			logLine("start")
			time.Sleep(300 * time.Millisecond)
			logLine("end")
		}()
	}
	wg.Wait()
	if failed {
		return 1
	}
	return 0
}

// A genrule whose shell command runs a fifo-only client (ninja 1.13)
// gets the fifo style: by choice (jobserver = "fifo"), or because bld sees
// ninja in the command (jobserver = True). Without either it gets the pipe
// style, and the client, ignoring it, runs 6 units at once.
func TestJobserverStyleForShellCommands(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, name := range []string{"ninja", "fifoclient"} {
		if err := os.Symlink(self, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name, program, jobserver string
		wantPeak                 int
		wantOutput               string
	}{
		{"chosen", "fifoclient", `"fifo"`, 2, "joined the fifo jobserver"},
		{"ninja-detected", "ninja", "True", 2, "joined the fifo jobserver"},
		{"pipe-chosen", "ninja", `"pipe"`, 6, "Pipe-based protocol is not supported"},
		{"pipe-default", "fifoclient", "True", 6, "Pipe-based protocol is not supported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "units.log")
			w := newWorkspace(t, map[string]string{
				"n/BUILD.star": fmt.Sprintf(`genrule(
    name = "n",
    outs = ["out.txt"],
    cmd = "%s=1 CLIENT_LOG=%s %s/%s > $@",
    jobserver = %s,
)
`, fifoClientEnv, log, bin, c.program, c.jobserver),
			})
			w.mustBuild("build", "-j2", "//n:n")
			peak, started := peakConcurrency(t, log)
			if started != 6 || peak != c.wantPeak {
				t.Errorf("%d units started, peak %d; want 6 started, peak %d", started, peak, c.wantPeak)
			}
			wantContains(t, w.read("bld-out/n/out.txt"), c.wantOutput)
		})
	}
}
