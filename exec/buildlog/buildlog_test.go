package buildlog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/executor"
	"bld/exec/graph"
)

var (
	t0  = time.Unix(1700000000, 0)
	cc  = &graph.Action{Owner: "//p:a", Mnemonic: "CcCompile", Outputs: []string{"bld-out/p/a.d", "bld-out/p/a.o"}}
	ln  = &graph.Action{Owner: "//p:app", Mnemonic: "CcLink", Outputs: []string{"bld-out/p/app"}}
	gen = &graph.Action{Owner: "//p:g", Mnemonic: "Genrule", Outputs: []string{"bld-out/p/g.txt"}}
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "build_log")
	l, err := Open(path)
	if err != nil || l.Len() != 0 {
		t.Fatalf("Open(missing) = %d entries, %v; want an empty log", l.Len(), err)
	}
	l.Finished(executor.Result{Action: cc, Status: executor.StatusRan, Start: t0, End: t0.Add(1500 * time.Millisecond)})
	l.Finished(executor.Result{Action: ln, Status: executor.StatusRan, Start: t0, End: t0.Add(250 * time.Microsecond)})
	// Not measurements of the command: ignored.
	l.Finished(executor.Result{Action: gen, Status: executor.StatusRestored, Start: t0, End: t0.Add(time.Millisecond)})
	l.Finished(executor.Result{Action: gen, Status: executor.StatusCached, Start: t0, End: t0.Add(time.Millisecond)})
	l.Finished(executor.Result{Action: gen, Status: executor.StatusFailed, Start: t0, End: t0.Add(time.Millisecond)})
	if err := l.Save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := header + "\n1500000\tbld-out/p/a.d\n250\tbld-out/p/app\n"
	if diff := cmp.Diff(want, string(data)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	l2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Duration{}
	for _, a := range []*graph.Action{cc, ln, gen} {
		if d, ok := l2.Duration(a); ok {
			got[a.Owner] = d
		}
	}
	if diff := cmp.Diff(map[string]time.Duration{"//p:a": 1500 * time.Millisecond, "//p:app": 250 * time.Microsecond}, got); diff != "" {
		t.Errorf("durations read back (-want +got):\n%s", diff)
	}
	// A later build that runs only the link keeps the compile's entry.
	l2.Finished(executor.Result{Action: ln, Status: executor.StatusRan, Start: t0, End: t0.Add(time.Second)})
	if err := l2.Save(); err != nil {
		t.Fatal(err)
	}
	l3, _ := Open(path)
	if d, _ := l3.Duration(cc); d != 1500*time.Millisecond {
		t.Errorf("compile's duration after a build that did not run it: %v", d)
	}
	if d, _ := l3.Duration(ln); d != time.Second {
		t.Errorf("link's duration = %v, want the newest, 1s", d)
	}
}

func TestSaveOnlyWhenChanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "build_log")
	l, _ := Open(path)
	l.Finished(executor.Result{Action: gen, Status: executor.StatusCached, Start: t0, End: t0})
	if err := l.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a build that ran nothing wrote the log: %v", err)
	}
}

func TestDamagedLinesIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "build_log")
	content := header + "\n12\tbld-out/p/app\nnot a line\n-5\tbld-out/p/g.txt\nx\tbld-out/p/a.d\n7\t\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 1 {
		t.Errorf("%d entries, want 1 (only the good line)", l.Len())
	}
	if d, ok := l.Duration(ln); !ok || d != 12*time.Microsecond {
		t.Errorf("Duration = %v, %v; want 12µs", d, ok)
	}
	// Another format (a future version): ignored whole.
	if err := os.WriteFile(path, []byte("# bld build log v9\n12\tbld-out/p/app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if l, _ := Open(path); l.Len() != 0 {
		t.Errorf("a log of another version gave %d entries", l.Len())
	}
}
