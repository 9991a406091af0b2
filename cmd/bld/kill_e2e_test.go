package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killSynthetic is a small C project for the kill test: 10 units of a few
// functions each, compiled with gcc -O2, and a binary that links them.
func killSynthetic() map[string]string {
	files := map[string]string{}
	var build strings.Builder
	var deps, calls, decls []string
	for i := range 10 {
		var src strings.Builder
		for f := range 40 {
			fmt.Fprintf(&src, "static double f%d_%d(double x) { for (int k = 0; k < %d; k++) x = x * 1.0001 + k / (x + 1.0); return x; }\n", i, f, f+3)
		}
		fmt.Fprintf(&src, "double unit%d(double x) { return ", i)
		for f := range 40 {
			fmt.Fprintf(&src, "f%d_%d(x) + ", i, f)
		}
		src.WriteString("0; }\n")
		files[fmt.Sprintf("u/u%d.c", i)] = src.String()
		fmt.Fprintf(&build, "cc_unit(name = \"u%d\", srcs = [\"u%d.c\"], copts = [\"-O2\", \"-g\"])\n", i, i)
		deps = append(deps, fmt.Sprintf("\"//u:u%d\"", i))
		decls = append(decls, fmt.Sprintf("double unit%d(double);", i))
		calls = append(calls, fmt.Sprintf("unit%d(1.0)", i))
	}
	files["u/BUILD.star"] = build.String()
	files["app/main.c"] = "#include <stdio.h>\n" + strings.Join(decls, "\n") + "\nint main(void) { printf(\"%f\\n\", " + strings.Join(calls, " + ") + "); return 0; }\n"
	files["app/BUILD.star"] = "cc_binary(name = \"app\", srcs = [\"main.c\"], deps = [" + strings.Join(deps, ", ") + "], copts = [\"-O2\"])\n"
	return files
}

// outputsDigest is one digest of the files under bld-out but .bld.
func outputsDigest(t *testing.T, w *testWorkspace) string {
	t.Helper()
	var lines []string
	root := w.path("bld-out")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == ".bld" {
			return fs.SkipDir
		}
		if d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			lines = append(lines, fmt.Sprintf("%x %s", sha256.Sum256(data), rel))
		}
		return nil
	})
	sort.Strings(lines)
	return fmt.Sprintf("%d files %x", len(lines), sha256.Sum256([]byte(strings.Join(lines, "\n"))))
}

// markedProcesses returns the pids of processes whose environment holds
// the variable mark (NAME=VALUE).
func markedProcesses(mark string) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []string
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(data), "\x00") {
			if kv == mark {
				pids = append(pids, filepath.Base(d))
				break
			}
		}
	}
	return pids
}

// A build killed with SIGKILL at a few points of a real gcc build (the
// short version of bench/killtest.sh): no process of it runs a second
// later, and the next build succeeds with outputs byte-identical to a
// clean build's, a cache that verifies, and no exec root, running record
// or cache temporary file left.
func TestKilledBuildLeavesNothingBehind(t *testing.T) {
	needTool(t, "gcc")
	mark := "BLD_KILLTEST=" + t.Name() + fmt.Sprint(os.Getpid())
	flags := []string{"build", "-j2", "--action_env=" + mark, "//..."}

	ref := newWorkspace(t, killSynthetic())
	start := time.Now()
	ref.mustBuild(flags...)
	span := time.Since(start)
	want := outputsDigest(t, ref)
	t.Logf("reference build: %v, %s", span, want)

	w := newWorkspace(t, killSynthetic())
	for i, frac := range []float64{0.15, 0.5, 0.85} {
		w.mustBuild("clean")
		if i != 1 { // the second kill finds the cache as the first left it
			os.RemoveAll(w.cache)
		}
		cmd := w.command(".", flags...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(frac * float64(span)))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		time.Sleep(time.Second)
		if pids := markedProcesses(mark); len(pids) > 0 {
			killAll(pids)
			t.Errorf("kill %d at %.0f%%: processes of the killed build still run a second later: %v", i, frac*100, pids)
		}
		w.mustBuild(flags...)
		if got := outputsDigest(t, w); got != want {
			t.Errorf("kill %d: outputs %s after the next build, want %s", i, got, want)
		}
		if r := w.bld("cache", "verify"); r.code != 0 || !strings.Contains(r.stdout, "ok") {
			t.Errorf("kill %d: cache verify:\n%s", i, r)
		}
		for _, dir := range []string{"bld-out/.bld/sandbox", "bld-out/.bld/running"} {
			if left, _ := os.ReadDir(w.path(dir)); len(left) != 0 {
				t.Errorf("kill %d: %s holds %d entries after the next build", i, dir, len(left))
			}
		}
		var tmps []string
		for _, dir := range []string{w.cache, w.path("bld-out")} {
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && (strings.HasPrefix(d.Name(), ".tmp-") || strings.HasPrefix(d.Name(), ".bld-tmp-")) {
					tmps = append(tmps, p)
				}
				return nil
			})
		}
		if len(tmps) > 0 {
			t.Errorf("kill %d: temporary files left after the next build: %v", i, tmps)
		}
	}
}

// A build killed while it restores outputs from the cache leaves its
// temporary files ".bld-tmp-*" beside the outputs (where kill 28 of a run
// of bench/killtest.sh once found bld-out/src/_objs/lua_lib/src/.tmp-1638478174,
// when nothing removed them), with a marker in bld-out/.bld/staging that
// says so; one killed while it writes a file of its own leaves it in the
// staging directory. The next build removes both before it writes
// anything, restores over them and collects none of them; without the
// marker, nothing below bld-out is walked, so a ".bld-tmp-*" file that no
// killed restore left stays.
func TestStagingDirEmptiedByNextBuild(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"BUILD.star": "genrule(name = \"g\", outs = [\"g.txt\"], cmd = \"echo g > $@\")\n" +
			"genrule(name = \"h\", srcs = [\"g.txt\"], outs = [\"sub dir/h'1;x.txt\"], cmd = \"cat $< $< > $@; chmod +x $@\")\n",
	})
	w.mustBuild("build", "//...")
	want := outputsDigest(t, w)
	w.mustBuild("clean")
	// What a build killed among restores leaves.
	w.write("bld-out/.bld/staging/.tmp-1638478174", "half a record")
	w.write("bld-out/.bld/staging/temps-beside-outputs", "")
	w.write("bld-out/.bld-tmp-1", "half a restored object")
	w.write("bld-out/sub dir/.bld-tmp-2", "half a restored object")
	w.mustBuild("build", "//...") // restores both outputs beside themselves
	if left, _ := os.ReadDir(w.path("bld-out/.bld/staging")); len(left) != 0 {
		t.Errorf("bld-out/.bld/staging holds %d files after a build", len(left))
	}
	for _, pat := range []string{"bld-out/.tmp-*", "bld-out/.bld-tmp-*", "bld-out/*/.bld-tmp-*"} {
		if left, _ := filepath.Glob(w.path(pat)); len(left) != 0 {
			t.Errorf("temporary files beside the outputs: %v", left)
		}
	}
	if got := outputsDigest(t, w); got != want {
		t.Errorf("outputs after the restore: %s, want %s (as built)", got, want)
	}
	if fi, err := os.Stat(w.path("bld-out/sub dir/h'1;x.txt")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("restored executable output: %v, %v; want mode 0755", fi, err)
	}

	// No marker: a build that was not killed among restores walks nothing.
	w.write("bld-out/.bld-tmp-3", "not left by a killed restore")
	w.mustBuild("build", "//...")
	if _, err := os.Stat(w.path("bld-out/.bld-tmp-3")); err != nil {
		t.Errorf("a build without the marker removed a file below bld-out: %v", err)
	}
}

// A build killed with SIGKILL while it restores outputs (small ones,
// inlined in their results, and larger ones, blobs of ~450 KB, whose copy
// takes a while) from the cache, once a few outputs are back, three times.
// The next build removes whatever temporary files the kill left, restores
// the rest, and ends with outputs byte-identical to the first build's,
// nothing named .bld-tmp-* below bld-out, and an empty staging directory.
func TestKilledRestoreLeavesNoTemps(t *testing.T) {
	files := map[string]string{}
	for p := range 3 {
		var b strings.Builder
		for i := range 40 {
			if i%2 == 0 {
				fmt.Fprintf(&b, "genrule(name = \"s%d\", outs = [\"s %d;'x'.txt\"], cmd = \"echo %d > $@\")\n", i, i, i)
			} else {
				fmt.Fprintf(&b, "genrule(name = \"l%d\", outs = [\"l%d.txt\"], cmd = \"(echo %d; seq 1 80000) > $@\")\n", i, i, i)
			}
		}
		files[fmt.Sprintf("p%d/BUILD.star", p)] = b.String()
	}
	w := newWorkspace(t, files)
	w.mustBuild("build", "-j2", "//...")
	want := outputsDigest(t, w)
	left := 0
	for i := range 3 {
		for p := range 3 {
			os.RemoveAll(w.path(fmt.Sprintf("bld-out/p%d", p)))
		}
		cmd := w.command(".", "build", "-j2", "//...")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
	wait:
		for {
			select {
			case <-exited:
				break wait
			default:
			}
			if back, _ := os.ReadDir(w.path("bld-out/p0")); len(back) >= 5 {
				cmd.Process.Signal(syscall.SIGKILL)
				<-exited
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		temps := tempsIn(w.path("bld-out"))
		left += len(temps)
		t.Logf("kill %d: %d temporary files left beside the outputs", i, len(temps))
		w.mustBuild("build", "-j2", "//...")
		if got := outputsDigest(t, w); got != want {
			t.Errorf("kill %d: outputs %s after the next build, want %s", i, got, want)
		}
		if temps := tempsIn(w.path("bld-out")); len(temps) != 0 {
			t.Errorf("kill %d: temporary files after the next build: %q", i, temps)
		}
		if names, _ := os.ReadDir(w.path("bld-out/.bld/staging")); len(names) != 0 {
			t.Errorf("kill %d: the staging directory holds %d files after the next build", i, len(names))
		}
	}
	t.Logf("%d temporary files left by the 3 kills", left)

	// Ctrl-C (SIGINT) among restores: bld stops, and leaves nothing
	// behind, not even for the next build to remove.
	for p := range 3 {
		os.RemoveAll(w.path(fmt.Sprintf("bld-out/p%d", p)))
	}
	cmd := w.command(".", "build", "-j2", "//...")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
interrupt:
	for {
		select {
		case <-exited:
			t.Log("the build ended before it could be interrupted")
			break interrupt
		default:
		}
		if back, _ := os.ReadDir(w.path("bld-out/p0")); len(back) >= 5 {
			cmd.Process.Signal(os.Interrupt)
			<-exited
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	if temps := tempsIn(w.path("bld-out")); len(temps) != 0 {
		t.Errorf("temporary files after Ctrl-C: %q", temps)
	}
	if names, _ := os.ReadDir(w.path("bld-out/.bld/staging")); len(names) != 0 {
		t.Errorf("the staging directory holds %d files after Ctrl-C", len(names))
	}
}

// tempsIn lists the files named .bld-tmp-* below dir.
func tempsIn(dir string) []string {
	var temps []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".bld-tmp-") {
			temps = append(temps, p)
		}
		return nil
	})
	return temps
}
