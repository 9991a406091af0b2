package main

// rustup's rustc is a proxy: the same file whatever toolchain it runs.
// The key must hold the toolchain it runs, or switching toolchains (rustup
// default) would leave outputs of the old compiler in place and in the
// cache as if they were the new one's.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRustupProxyToolchainInKey(t *testing.T) {
	tools := t.TempDir()
	home := filepath.Join(tools, "home")
	settings := filepath.Join(home, ".rustup", "settings.toml")
	for _, tc := range []string{"tc1", "tc2"} {
		// A "toolchain": its rustc answers -vV and --print=sysroot like
		// rustc, and otherwise writes which toolchain compiled.
		script := "#!/bin/sh\ncase \"$1\" in\n-vV) echo \"rustc 1.0 " + tc + "\";;\n" +
			"--print=sysroot) echo " + filepath.Join(tools, tc) + ";;\n" +
			"*) echo \"compiled by " + tc + "\" > \"$2\";;\nesac\n"
		writeExecutable(t, filepath.Join(tools, tc, "bin", "rustc"), script)
		os.MkdirAll(filepath.Join(tools, tc, "lib"), 0o755)
		os.WriteFile(filepath.Join(tools, tc, "lib", "librustc_driver-"+tc+".so"), []byte(tc), 0o644)
	}
	// The proxy runs the toolchain the settings name (rustup reads its
	// home without HOME, which actions do not get).
	writeExecutable(t, filepath.Join(tools, "bin", "rustc"),
		"#!/bin/sh\nexec "+tools+"/$(cat "+settings+")/bin/rustc \"$@\"\n")
	writeFile(t, settings, "tc1")

	w := newWorkspace(t, map[string]string{
		"r/defs.star": `
def _impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".txt")
    ctx.actions.run(outputs = [out], executable = "rustc", arguments = ["-o", out.path])
    return [DefaultInfo(files = [out])]

crate = rule(implementation = _impl)
`,
		"r/BUILD.star": "load(\":defs.star\", \"crate\")\ncrate(name = \"c\")\n",
	})
	for i, kv := range w.env {
		switch {
		case strings.HasPrefix(kv, "PATH="):
			w.env[i] = "PATH=" + filepath.Join(tools, "bin") + ":" + strings.TrimPrefix(kv, "PATH=")
		case strings.HasPrefix(kv, "HOME="):
			w.env[i] = "HOME=" + home
		}
	}
	w.mustBuild("build", "//r:c")
	if got := w.read("bld-out/r/c.txt"); got != "compiled by tc1\n" {
		t.Fatalf("c.txt = %q", got)
	}
	// rustup default tc2: the proxy is unchanged, the compiler is not.
	writeFile(t, settings, "tc2")
	w.mustBuild("build", "//r:c")
	if got := w.read("bld-out/r/c.txt"); got != "compiled by tc2\n" {
		t.Errorf("after switching the toolchain, c.txt = %q: the old compiler's output was kept", got)
	}
	// And back: restored from the cache, the first toolchain's output.
	writeFile(t, settings, "tc1")
	w.mustBuild("build", "//r:c")
	if got := w.read("bld-out/r/c.txt"); got != "compiled by tc1\n" {
		t.Errorf("after switching back, c.txt = %q", got)
	}
}

func writeExecutable(t *testing.T, name, content string) {
	t.Helper()
	writeFile(t, name, content)
	if err := os.Chmod(name, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
