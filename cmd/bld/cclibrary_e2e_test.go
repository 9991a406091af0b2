package main

// cc_library's Bazel attributes: strip_include_prefix and include_prefix
// (headers included by another path), textual_hdrs, alwayslink (objects
// no one references are linked), and a unit of deps only.

import (
	"os/exec"
	"testing"
)

func TestCcLibraryAttributes(t *testing.T) {
	files := map[string]string{
		"lib/BUILD.star": `
cc_library(
    name = "lib",
    srcs = ["lib.c", "reg.c"],
    hdrs = ["include/lib/lib.h"],
    textual_hdrs = ["include/lib/table.inc"],
    strip_include_prefix = "include",
    include_prefix = "vendor",
    alwayslink = True,
)
cc_library(name = "only_deps", deps = [":lib"])
`,
		"lib/include/lib/lib.h":     "int lib_value(void);\n",
		"lib/include/lib/table.inc": "40 + 2\n",
		"lib/lib.c":                 "#include \"vendor/lib/lib.h\"\nint lib_value(void) { return\n#include \"vendor/lib/table.inc\"\n; }\n",
		"lib/reg.c":                 "#include <stdio.h>\n__attribute__((constructor)) static void reg(void) { puts(\"registered\"); }\n",
		"app/BUILD.star":            `cc_binary(name = "app", srcs = ["main.c"], deps = ["//lib:only_deps"])` + "\n",
		"app/main.c":                "#include <stdio.h>\n#include \"vendor/lib/lib.h\"\nint main(void) { printf(\"%d\\n\", lib_value()); return 0; }\n",
	}
	w := newWorkspace(t, files)
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "registered\n42\n")

	// Without alwayslink, the unreferenced object is left out.
	w.write("lib/BUILD.star", `
cc_library(
    name = "lib",
    srcs = ["lib.c", "reg.c"],
    hdrs = ["include/lib/lib.h"],
    textual_hdrs = ["include/lib/table.inc"],
    strip_include_prefix = "include",
    include_prefix = "vendor",
)
cc_library(name = "only_deps", deps = [":lib"])
`)
	w.mustBuild("build", "//app")
	wantOutput(t, w, "bld-out/app/app", "42\n")

	// A header outside strip_include_prefix is an error naming it.
	w.write("lib/BUILD.star", `cc_library(name = "lib", srcs = ["lib.c"], hdrs = ["include/lib/lib.h"], strip_include_prefix = "src")
cc_library(name = "only_deps", deps = [":lib"])
`)
	r := w.bld("build", "//app")
	if r.code == 0 {
		t.Fatalf("a header outside strip_include_prefix was accepted:\n%s", r)
	}
	wantContains(t, r.output(), "lib/include/lib/lib.h is not under strip_include_prefix")
}

// cc_binary(linkshared = True) links a shared object from its sources and
// its (position-independent) dependencies; a program dlopens it.
func TestLinkShared(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"lib/BUILD.star": `
cc_library(name = "lib", srcs = ["lib.c"], hdrs = ["lib.h"], copts = ["-fPIC"])
cc_binary(name = "libplugin.so", srcs = ["plugin.c"], deps = [":lib"], linkshared = True)
cc_binary(name = "host", srcs = ["host.c"], linkopts = ["-ldl"], data = [":libplugin.so"])
`,
		"lib/lib.h":    "int lib_value(void);\n",
		"lib/lib.c":    "int lib_value(void) { return 41; }\n",
		"lib/plugin.c": "#include \"lib.h\"\nint plugin_value(void) { return lib_value() + 1; }\n",
		"lib/host.c": `#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("%s\n", dlerror()); return 1; }
  int (*f)(void) = (int (*)(void))dlsym(h, "plugin_value");
  printf("%d\n", f());
  return 0;
}
`,
	})
	w.mustBuild("build", "//lib:libplugin.so", "//lib:host")
	out, err := exec.Command(w.path("bld-out/lib/host"), w.path("bld-out/lib/libplugin.so")).CombinedOutput()
	if err != nil || string(out) != "42\n" {
		t.Errorf("host with the plugin: %v, %q; want 42", err, out)
	}
}
