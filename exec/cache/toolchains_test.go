package cache

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bld/exec/program"
)

// fakeDriver writes a driver script that counts its runs in a file and
// answers -print-prog-name=as with the as of its -B prefix if there is
// one, else "as", as gcc does.
func fakeDriver(t *testing.T, dir string) (program.Program, string) {
	t.Helper()
	count := filepath.Join(dir, "runs")
	script := "#!/bin/sh\necho x >> " + count + "\nb=\nfor a; do case $a in -B*) b=${a#-B};; esac; done\n" +
		"case $a in -print-prog-name=as) if [ -x \"${b}as\" ]; then echo \"${b}as\"; else echo as; fi;; -print-prog-name=*) ;; *) echo 1;; esac\n"
	p := filepath.Join(dir, "gcc")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	prog, err := program.Find(dir, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return prog, count
}

func runs(t *testing.T, count string) int {
	t.Helper()
	data, err := os.ReadFile(count)
	if err != nil {
		return 0
	}
	return strings.Count(string(data), "\n")
}

// settleDir dates the directory dir an hour back, out of the racy window.
func settleDir(t *testing.T, dir string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
}

// The memo probes once per distinct set of toolchain arguments,
// environment and program directories, keeps bare answers bare, and
// persists them under its version; a file of another version is ignored.
func TestToolchainMemo(t *testing.T) {
	dir := t.TempDir()
	prog, count := fakeDriver(t, dir)
	file := filepath.Join(dir, "toolchains")
	// An old-format file (a map of resolved paths) is ignored.
	if err := os.WriteFile(file, []byte(`{"k":{"Version":"1","Programs":["/usr/bin/as"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(dir, "mybin")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		t.Fatal(err)
	}
	settleDir(t, bdir)
	ctx := context.Background()
	env := []string{"PATH=/usr/bin:/bin"}
	bflags := []string{"-B" + bdir + "/"}
	m := newToolchainMemo(file)
	identity := func(flags, env []string) []string {
		t.Helper()
		id, err := m.identity(ctx, dir, prog, flags, env, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return id.Programs
	}
	if got := identity(nil, env); !slices.Equal(got, []string{"as"}) {
		t.Errorf("Programs = %q, want the bare answer [as]", got)
	}
	n := runs(t, count)
	identity(nil, env)
	if runs(t, count) != n {
		t.Errorf("same driver, flags and env: probed again")
	}
	if got := identity(bflags, env); !slices.Equal(got, []string{"as"}) || runs(t, count) == n {
		t.Errorf("with -B of an empty directory: Programs = %q, want a new probe answering [as]", got)
	}
	n = runs(t, count)
	identity(bflags, env)
	if runs(t, count) != n {
		t.Errorf("same -B: probed again")
	}
	// An as appears in the -B directory: the directory's stamp changes,
	// the driver is asked again.
	as := filepath.Join(bdir, "as")
	if err := os.WriteFile(as, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := identity(bflags, env); !slices.Equal(got, []string{as}) {
		t.Errorf("after an as appeared in the -B directory: Programs = %q, want [%s]", got, as)
	}
	settleDir(t, bdir)
	identity(bflags, env)
	for _, e := range [][]string{
		{"PATH=/usr/bin:/bin", "GCC_EXEC_PREFIX=/opt/"},
		{"PATH=/usr/bin:/bin", "COMPILER_PATH=/opt/bin"},
		{"PATH=/opt/bin:/usr/bin:/bin"},
	} {
		n = runs(t, count)
		identity(nil, e)
		if runs(t, count) == n {
			t.Errorf("env %q: not probed again", e)
		}
	}
	if err := m.save(); err != nil {
		t.Fatal(err)
	}
	m = newToolchainMemo(file)
	n = runs(t, count)
	if got := identity(bflags, env); runs(t, count) != n || !slices.Equal(got, []string{as}) {
		t.Errorf("after save and load: Programs %q, %d new runs; want the saved answer", got, runs(t, count)-n)
	}
}

// A program directory changed within the racy window: the answer is not
// remembered, as a change in the same clock tick would not show.
func TestToolchainMemoRacyDirectory(t *testing.T) {
	dir := t.TempDir()
	prog, count := fakeDriver(t, dir)
	bdir := filepath.Join(dir, "mybin")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := newToolchainMemo(filepath.Join(dir, "toolchains"))
	env := []string{"PATH=/usr/bin:/bin"}
	// "Now" is just after the directory's change, whatever the time the
	// driver's runs take on a loaded machine.
	fi, err := os.Stat(bdir)
	if err != nil {
		t.Fatal(err)
	}
	now := fi.ModTime().Add(time.Millisecond)
	for i := 0; i < 2; i++ {
		n := runs(t, count)
		if _, err := m.identity(context.Background(), dir, prog, []string{"-B", bdir}, env, now); err != nil {
			t.Fatal(err)
		}
		if runs(t, count) == n {
			t.Errorf("check %d: a directory changed just now, and the answer came from the memo", i)
		}
	}
	if len(m.m) != 0 {
		t.Errorf("memo = %v, want nothing remembered", m.m)
	}
}
