package main

// cc_library's Bazel attributes: strip_include_prefix and include_prefix
// (headers included by another path), textual_hdrs, alwayslink (objects
// no one references are linked), and a unit of deps only.

import "testing"

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
