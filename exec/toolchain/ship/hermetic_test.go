package ship

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellLine(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// TestShippedBuildHermetic builds as TestShippedBuild does, inside a user
// and mount namespace (unshare -Urm) where an empty tmpfs hides all of
// /usr: with merged /usr, that is every compiler, header, library and the
// host's dynamic loader (/lib64 -> usr/lib64). Nothing of the host's
// toolchain can leak in; the shell's builtins (cd, export, [, exec) and
// the shipped files are all there is. The program is run through the
// shipped loader, as the host's is hidden too.
func TestShippedBuildHermetic(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("unshare not found (util-linux): %v", err)
	}
	if out, err := exec.Command("unshare", "-Urm", "true").CombinedOutput(); err != nil {
		t.Skipf("unprivileged user namespaces are not available here (unshare -Urm true: %v: %s)", err, out)
	}
	for _, l := range []string{"/lib64", "/lib", "/bin"} {
		if target, err := os.Readlink(l); err != nil || !strings.HasPrefix(target, "usr/") {
			t.Skipf("%s is not a link into /usr (no merged /usr), so hiding /usr would not hide it", l)
		}
	}
	for _, s := range []source{cSource, cxxSource} {
		t.Run(s.driver, func(t *testing.T) {
			host, headers := hostBuild(t, s)
			tc, dir := shipped(t, s, headers, Options{})
			if strings.HasPrefix(dir, "/usr/") {
				t.Skipf("the temporary directory %s is under /usr, which the test hides", dir)
			}
			compile, _ := tc.Rewrite(s.compileArgs(), nil)
			link, _ := tc.Rewrite(s.linkArgs2(), nil)
			// The program needs the runtime libraries the link used
			// (libstdc++.so.6), which the toolchain's programs do not load.
			libDirs := []string{}
			for _, f := range tc.Files {
				if strings.Contains(path.Base(f.Path), ".so.") {
					libDirs = appendNew(libDirs, path.Dir(f.Path))
				}
			}
			runProg := []string{tc.In(tc.Loader), "--library-path", strings.Join(libDirs, ":"), "./hello"}
			script := strings.Join([]string{
				"mount -t tmpfs none /usr",
				"cd " + shellQuote(dir),
				"PATH=/nonexistent", "export PATH",
				"if [ -e /usr/bin/gcc ] || [ -e /lib64/ld-linux-x86-64.so.2 ] || [ -e /usr/include/stdio.h ]; then echo host toolchain visible; exit 99; fi",
				shellLine(compile),
				shellLine(link),
				shellLine(runProg),
			}, " && ")
			cmd := exec.Command("unshare", "-Urm", "sh", "-c", script)
			cmd.Env = []string{hostPath}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("hermetic build: %v\n%s\nscript: %s", err, out, script)
			}
			if string(out) != s.want {
				t.Errorf("hermetic build printed %q, want %q", out, s.want)
			}
			sameFile(t, filepath.Join(host, "hello.o"), filepath.Join(dir, "hello.o"))
			sameFile(t, filepath.Join(host, "hello"), filepath.Join(dir, "hello"))
		})
	}
}
