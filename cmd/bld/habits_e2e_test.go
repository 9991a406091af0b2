package main

// End-to-end tests of the Bazel habits users bring: tags = ["manual"] left
// out of //..., visibility enforced where declared, alias, cc_library as
// cc_unit's Bazel name, exports_files accepted.

import "testing"

func TestManualTag(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"p/BUILD.star": `
genrule(name = "auto", outs = ["auto.txt"], cmd = "echo auto > $@")
genrule(name = "by_hand", outs = ["by_hand.txt"], cmd = "echo hand > $@", tags = ["manual"])
`,
	})
	w.mustBuild("build", "//...")
	if !w.exists("bld-out/p/auto.txt") || w.exists("bld-out/p/by_hand.txt") {
		t.Errorf("//... built auto.txt=%v by_hand.txt=%v; want only the untagged one", w.exists("bld-out/p/auto.txt"), w.exists("bld-out/p/by_hand.txt"))
	}
	w.mustBuild("build", "//p:all")
	if w.exists("bld-out/p/by_hand.txt") {
		t.Error("//p:all built a manual target")
	}
	w.mustBuild("build", "//p:by_hand")
	if !w.exists("bld-out/p/by_hand.txt") {
		t.Error("naming a manual target did not build it")
	}
}

func TestVisibility(t *testing.T) {
	w := newWorkspace(t, map[string]string{
		"lib/BUILD.star": `
package(default_visibility = ["//visibility:private"])
exports_files(["lib.h"])

cc_library(name = "secret", srcs = ["s.c"])
cc_library(name = "friends", srcs = ["f.c"], visibility = [":friend_pkgs"])
cc_library(name = "open", srcs = ["o.c"], visibility = ["//visibility:public"])
cc_library(name = "sub", srcs = ["o.c"], visibility = ["//apps:__subpackages__"])
package_group(name = "friend_pkgs", packages = ["//apps/good"], includes = [":more"])
package_group(name = "more", packages = ["//tools/..."])
alias(name = "open_alias", actual = ":open", visibility = ["//visibility:public"])
`,
		"lib/s.c": "int s(void) { return 1; }\n",
		"lib/f.c": "int f(void) { return 2; }\n",
		"lib/o.c": "int o(void) { return 3; }\n",
		"apps/good/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"], deps = ["//lib:friends", "//lib:open_alias", "//lib:sub"])
`,
		"apps/good/main.c": "#include <stdio.h>\nint f(void); int o(void);\nint main(void) { printf(\"%d\\n\", f() + o()); return 0; }\n",
		"apps/bad/BUILD.star": `cc_binary(name = "app", srcs = ["main.c"], deps = ["//lib:secret"])
`,
		"apps/bad/main.c": "int s(void);\nint main(void) { return s(); }\n",
		"tools/x/BUILD.star": `cc_binary(name = "x", srcs = ["main.c"], deps = ["//lib:friends"])
cc_binary(name = "y", srcs = ["main.c"], deps = ["//lib:sub"])
`,
		"tools/x/main.c": "int f(void);\nint main(void) { return f() - 2; }\n",
	})
	w.mustBuild("build", "//apps/good:app", "//tools/x:x")
	wantOutput(t, w, "bld-out/apps/good/app", "5\n")

	r := w.bld("build", "//apps/bad:app")
	if r.code != 1 {
		t.Fatalf("a private dependency was allowed:\n%s", r)
	}
	wantContains(t, r.output(), "apps/bad/BUILD.star:1:10", "cc_binary //apps/bad:app depends on //lib:secret, which is not visible to package //apps/bad",
		`its visibility is ["//visibility:private"]`, `add "//apps/bad:__pkg__"`)
	r = w.bld("build", "//tools/x:y")
	if r.code != 1 {
		t.Fatalf("__subpackages__ of //apps admitted //tools/x:\n%s", r)
	}
	wantContains(t, r.output(), "not visible to package //tools/x")
}
