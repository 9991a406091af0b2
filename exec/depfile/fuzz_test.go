package depfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse: any input either fails to parse or parses into rules that
// Format writes so that Parse reads them back the same; nothing panics.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"a.o: a.c a.h\n",
		"a.o: a.c \\\n  /usr/include/stdio.h \\\n  my\\ dir/x\\#y.h $$z.h\n\na.h:\n",
		"out.rmeta out.d: src/lib.rs src/m.rs\n\nsrc/lib.rs:\n# env-dep:X=1\n",
		"x: \\\\ \\\\\\ y\n",
		"no colon\n",
		":\n",
		"a:b: c\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := Parse(data)
		if err != nil {
			return
		}
		for _, r := range rules {
			for _, names := range [][]string{r.Targets, r.Prereqs} {
				for _, n := range names {
					if strings.HasSuffix(n, `\`) || strings.ContainsAny(n, "\r\n") {
						return // not writable in Make syntax (see Format)
					}
				}
			}
		}
		again, err := Parse(Format(rules))
		if err != nil {
			t.Fatalf("Format of %q gives %q, which does not parse: %v", data, Format(rules), err)
		}
		if diff := cmp.Diff(rules, again); diff != "" {
			t.Fatalf("round trip of %q via %q (-first +second):\n%s", data, Format(rules), diff)
		}
	})
}
