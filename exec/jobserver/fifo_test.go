package jobserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The fifo style: two Go clients (the helper, which joins through
// FromEnv) open the fifo by path and share a pool of 3 tokens.
func TestFifoStyleGoClient(t *testing.T) {
	dir := t.TempDir()
	p, err := NewServer(3, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetStyle(StyleFifo)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "log")
	outs := make([][]byte, 2)
	errs := runAll(2, func(i int) error {
		cmd := exec.Command(self)
		cmd.Env = append(Scrub(os.Environ()), "JOBSERVER_TEST_HELPER=client", "HELPER_UNITS=5", "HELPER_LOG="+log)
		out, err := runOutput(context.Background(), p, cmd)
		outs[i] = out
		if mf, _ := lookupEnv(cmd.Env, "MAKEFLAGS"); mf != "-j --jobserver-auth=fifo:"+p.fifoPath {
			t.Errorf("client %d was not given the fifo: %q", i, cmd.Env)
		}
		if len(cmd.ExtraFiles) != 0 {
			t.Errorf("client %d got descriptors in the fifo style", i)
		}
		return err
	})
	for i, err := range errs {
		if err != nil || !strings.Contains(string(outs[i]), "joined") {
			t.Errorf("client %d: %v\n%s", i, err, outs[i])
		}
	}
	got, units := peak(t, log)
	t.Logf("2 fifo clients x 5 units, pool of 3: peak %d", got)
	if units != 10 || got > 3 || got < 3 {
		t.Errorf("%d units, peak %d; want 10 units, peak 3", units, got)
	}
	checkAtRest(t, p)
}

func TestAutoStyle(t *testing.T) {
	for argv0, want := range map[string]Style{"ninja": StyleFifo, "/usr/bin/ninja": StyleFifo, "make": StylePipe, "cargo": StylePipe} {
		if got := autoStyle(&exec.Cmd{Path: argv0, Args: []string{argv0}}); got != want {
			t.Errorf("autoStyle(%s) = %v, want %v", argv0, got, want)
		}
	}
}
