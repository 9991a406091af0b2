package cache

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffArgv(t *testing.T) {
	cc := []string{"gcc", "-O2", "-c", "a.c", "-o", "a.o"}
	for _, tc := range []struct {
		name     string
		old, new []string
		want     []string
	}{
		{"same", cc, cc, nil},
		{"inserted", cc, []string{"gcc", "-O2", "-DEXTRA=1", "-c", "a.c", "-o", "a.o"}, []string{"argv -DEXTRA=1 inserted"}},
		{"deleted", []string{"gcc", "-O0", "-O2", "-c", "a.c"}, []string{"gcc", "-O2", "-c", "a.c"}, []string{"argv -O0 deleted"}},
		{"changed", cc, []string{"gcc", "-O3", "-c", "a.c", "-o", "a.o"}, []string{"argv -O2 deleted", "argv -O3 inserted"}},
		{"appended", cc, append(cc[:len(cc):len(cc)], "-g"), []string{"argv -g inserted"}},
		{"first", cc, append([]string{"ccache"}, cc...), []string{"argv ccache inserted"}},
		{"several", []string{"cc", "-a", "-b", "-c", "-d"}, []string{"cc", "-b", "-x", "-d", "-e"},
			[]string{"argv -a deleted", "argv -c deleted", "argv -x inserted", "argv -e inserted"}},
		{"quoted", []string{"sh", "-c", "echo a"}, []string{"sh", "-c", "echo b", ""},
			[]string{`argv "echo a" deleted`, `argv "echo b" inserted`, `argv "" inserted`}},
		{"to nothing", []string{"a", "b"}, nil, []string{"argv a deleted", "argv b deleted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, diffArgv(tc.old, tc.new)); diff != "" {
				t.Errorf("diffArgv(%q, %q) (-want +got):\n%s", tc.old, tc.new, diff)
			}
		})
	}
}

func TestDiffArgvHuge(t *testing.T) {
	old := make([]string, 3000)
	new := make([]string, 3000)
	for i := range old {
		old[i] = "o" + string(rune('a'+i%26))
		new[i] = "n" + string(rune('a'+i%26))
	}
	got := diffArgv(old, new)
	if want := []string{"argv changed: 3000 elements replaced by 3000"}; !cmp.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
