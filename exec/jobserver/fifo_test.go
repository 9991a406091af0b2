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

func TestStyleFor(t *testing.T) {
	for _, c := range []struct {
		argv []string
		want Style
	}{
		{[]string{"ninja"}, StyleFifo},
		{[]string{"/usr/bin/ninja", "-C", "b"}, StyleFifo},
		{[]string{"ninja-build"}, StyleFifo},
		{[]string{"make"}, StylePipe},
		{[]string{"cargo", "build"}, StylePipe},
		{[]string{"/bin/sh", "-e", "-c", "cd out && ninja -C b"}, StyleFifo}, // genrule
		{[]string{"/bin/sh", "-c", "tools/ninja all", "sh"}, StyleFifo},      // run_shell
		{[]string{"bash", "-ec", "x=$(nproc); ninja"}, StyleFifo},
		{[]string{"/bin/sh", "-e", "-c", "make -C b ninja_docs"}, StylePipe},
		{[]string{"/bin/sh", "-e", "-c", "echo ninjas > $@"}, StylePipe},
		{[]string{"/bin/sh", "script.sh", "ninja"}, StylePipe}, // no -c: a script file
		{[]string{"python3", "-c", "ninja"}, StylePipe},        // not a shell
		{nil, StylePipe},
	} {
		if got := StyleFor(c.argv); got != c.want {
			t.Errorf("StyleFor(%q) = %v, want %v", c.argv, got, c.want)
		}
	}
}

// An action's own choice wins over the pool's and over StyleFor; an
// unknown one is an error.
func TestAttachJobserverStyleChoice(t *testing.T) {
	p, err := NewServer(2, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	styleOf := func(argv []string, style string) string {
		t.Helper()
		cmd := exec.Command("true")
		cmd.Env = []string{}
		detach, err := p.AttachJobserver(cmd, argv, style)
		if err != nil {
			t.Fatal(err)
		}
		defer detach()
		for _, kv := range cmd.Env {
			if strings.HasPrefix(kv, "MAKEFLAGS=") {
				if strings.Contains(kv, "fifo:") {
					return "fifo"
				}
				return "pipe"
			}
		}
		return "none"
	}
	sh := []string{"/bin/sh", "-e", "-c", "ninja -C b"}
	for _, c := range []struct {
		argv        []string
		style, want string
	}{
		{sh, "", "fifo"}, {sh, "pipe", "pipe"}, {[]string{"make"}, "", "pipe"}, {[]string{"make"}, "fifo", "fifo"},
	} {
		if got := styleOf(c.argv, c.style); got != c.want {
			t.Errorf("%q with style %q: got the %s style, want %s", c.argv, c.style, got, c.want)
		}
	}
	if _, err := p.AttachJobserver(exec.Command("true"), sh, "socket"); err == nil {
		t.Error("style \"socket\" was accepted")
	}
}
