package main

import "testing"

func TestWantsMemProfile(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"build", "//..."}, false},
		{[]string{"build", "--memprofile", "f", "//..."}, true},
		{[]string{"build", "-memprofile=f", "//..."}, true},
		{[]string{"build", "--memprofile=f"}, true},
		{[]string{"build", "--cpuprofile", "memprofile"}, false},
		{[]string{"build", "--memprofiles"}, false},
	} {
		if got := wantsMemProfile(tc.args); got != tc.want {
			t.Errorf("wantsMemProfile(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
