package store

import "testing"

func TestDefaultDir(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"HOME=/h", "XDG_CACHE_HOME=/x", "BLD_CACHE_DIR=/b"}, "/b"},
		{[]string{"HOME=/h", "XDG_CACHE_HOME=/x"}, "/x/bld"},
		{[]string{"HOME=/h", "XDG_CACHE_HOME=rel"}, "/h/.cache/bld"},
		{[]string{"HOME=/h"}, "/h/.cache/bld"},
	} {
		got, err := DefaultDir(tc.env)
		if err != nil || got != tc.want {
			t.Errorf("DefaultDir(%q) = %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
	if _, err := DefaultDir(nil); err == nil {
		t.Errorf("DefaultDir(nil) succeeded")
	}
}
