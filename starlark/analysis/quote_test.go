package analysis_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// quoteFiles is a package whose file names need shell quoting, picked up by
// glob, and a custom rule that expands the same names as argv.
func quoteFiles(cmd string) map[string]string {
	return map[string]string{
		"p/a b.txt":                   "1",
		"p/a.txt;touch INJECTED;.txt": "2",
		"p/it's.txt":                  "3",
		"p/plain.txt":                 "4",
		"p/r.star": `
def _impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".out")
    ctx.actions.run(outputs = [out], inputs = ctx.files.data, executable = "cat",
                    arguments = [ctx.expand_location("$(locations :g)", [])])
    return [DefaultInfo(files = [out])]

r = rule(implementation = _impl, attrs = {"data": attr.label_list(allow_files = True)})
`,
		"p/BUILD.star": `load(":r.star", "r")
filegroup(name = "g", srcs = glob(["*.txt"]))
genrule(name = "all", srcs = glob(["*.txt"]), tools = [":g"], outs = ["o u t"], cmd = ` + quote(cmd) + `)
genrule(name = "one", srcs = ["it's.txt"], outs = ["plain.out"], cmd = ` + quote(cmd) + `)
genrule(name = "dir", outs = ["d i r/x.out"], cmd = ` + quote(cmd) + `)
r(name = "argv", data = [":g"])
`,
	}
}

// TestGenruleQuotesPaths checks that genrule's substitutions quote each path
// that needs it, and only those.
func TestGenruleQuotesPaths(t *testing.T) {
	const srcs = `'p/a b.txt' 'p/a.txt;touch INJECTED;.txt' 'p/it'\''s.txt' p/plain.txt`
	tests := []struct{ target, cmd, want string }{
		{"all", "cat $(SRCS) > $@", "cat " + srcs + ` > 'bld-out/p/o u t'`},
		{"all", "ls $(OUTS) $(@D) $(RULEDIR)", `ls 'bld-out/p/o u t' bld-out/p bld-out/p`},
		{"all", "cat $(location :plain.txt) $(location :it's.txt) $(locations :g) > $(location o u t)",
			`cat p/plain.txt 'p/it'\''s.txt' ` + srcs + ` > 'bld-out/p/o u t'`},
		{"all", "cat $(execpath :a b.txt) $(rootpath :o u t)", `cat 'p/a b.txt' 'p/o u t'`},
		{"one", "cat $< > $@", `cat 'p/it'\''s.txt' > bld-out/p/plain.out`},
		{"dir", "cd $(@D)", `cd 'bld-out/p/d i r'`},
	}
	for _, tt := range tests {
		a, err := analyze(t, quoteFiles(tt.cmd), "//p:"+tt.target)
		if err != nil {
			t.Errorf("%q: %v", tt.cmd, err)
			continue
		}
		act := action(t, a, "//p:"+tt.target, "Genrule")
		if diff := cmp.Diff([]string{"/bin/sh", "-e", "-c", tt.want}, act.Argv); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.cmd, diff)
		}
	}
}

// TestExpandLocationNeverQuotes checks that argv expansion leaves paths as
// they are: no shell reads them.
func TestExpandLocationNeverQuotes(t *testing.T) {
	a, err := analyze(t, quoteFiles("true"), "//p:argv")
	if err != nil {
		t.Fatal(err)
	}
	act := action(t, a, "//p:argv", "Action")
	want := []string{"cat", "p/a b.txt p/a.txt;touch INJECTED;.txt p/it's.txt p/plain.txt"}
	if diff := cmp.Diff(want, act.Argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
}
