package jobserver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFindAuth(t *testing.T) {
	tests := []struct {
		env  []string
		want auth
		ok   bool
	}{
		{[]string{"MAKEFLAGS=s -j3 --jobserver-auth=3,4"}, auth{Var: "MAKEFLAGS", Text: "3,4", R: 3, W: 4}, true},
		{[]string{"MAKEFLAGS= -j --jobserver-fds=5,6"}, auth{Var: "MAKEFLAGS", Text: "5,6", R: 5, W: 6}, true},
		{[]string{"MAKEFLAGS=-j --jobserver-fds=5,6 --jobserver-auth=fifo:/tmp/f"}, auth{Var: "MAKEFLAGS", Text: "fifo:/tmp/f", Fifo: "/tmp/f"}, true},
		{[]string{"MAKEFLAGS=-j --jobserver-auth=3,4", "CARGO_MAKEFLAGS=-j --jobserver-auth=7,8"}, auth{Var: "CARGO_MAKEFLAGS", Text: "7,8", R: 7, W: 8}, true},
		{[]string{"MAKEFLAGS=k -- X=--jobserver-auth=3,4"}, auth{}, false},
		{[]string{"MAKEFLAGS=-j4"}, auth{}, false},
		{nil, auth{}, false},
	}
	for _, tt := range tests {
		got, ok, err := findAuth(tt.env)
		if err != nil || ok != tt.ok {
			t.Errorf("findAuth(%q) = ok %v, err %v", tt.env, ok, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("findAuth(%q) (-want +got):\n%s", tt.env, diff)
		}
	}
}

func TestJobserverEnv(t *testing.T) {
	env := []string{"PATH=/bin", "MAKEFLAGS=ks -j8 --jobserver-auth=3,4 -- CC=gcc", "MFLAGS=-ks -j8"}
	got := jobserverEnv(env, "--jobserver-auth=fifo:/f")
	want := []string{
		"PATH=/bin",
		"MAKEFLAGS=ks -j --jobserver-auth=fifo:/f -- CC=gcc",
		"MFLAGS=-ks -j --jobserver-auth=fifo:/f",
		"CARGO_MAKEFLAGS=-j --jobserver-auth=fifo:/f",
	}
	if diff := cmp.Diff(want, sortedLast(got)); diff != "" {
		t.Errorf("jobserverEnv (-want +got):\n%s", diff)
	}
}

// sortedLast puts the entries in the order the test lists them.
func sortedLast(env []string) []string {
	order := map[string]int{"PATH": 0, "MAKEFLAGS": 1, "MFLAGS": 2, "CARGO_MAKEFLAGS": 3}
	out := make([]string, len(order))
	for _, kv := range env {
		for name, i := range order {
			if len(kv) > len(name) && kv[:len(name)+1] == name+"=" {
				out[i] = kv
			}
		}
	}
	return out
}

func TestScrub(t *testing.T) {
	got := Scrub([]string{"A=1", "MAKEFLAGS= -j3 --jobserver-auth=3,4", "CARGO_MAKEFLAGS=-j --jobserver-fds=3,4 --jobserver-auth=3,4", "MFLAGS=-k --jobs=4"})
	want := []string{"A=1", "MFLAGS=-k"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Scrub (-want +got):\n%s", diff)
	}
}

// A "--" word ends the options wherever it is (found by FuzzMakeflags:
// MAKEFLAGS="x --" made jobserverEnv append the auth after the "--", among
// the variables, where make does not look).
func TestJobserverEnvDashDash(t *testing.T) {
	for _, mf := range []string{"x --", "x\t--\tY=1", "--", "-- Y=1", "x -- Y=--jobserver-auth=3,4"} {
		out := jobserverEnv([]string{"MAKEFLAGS=" + mf}, "--jobserver-auth=fifo:/f")
		got, _ := lookupEnv(out, "MAKEFLAGS")
		a, ok, err := findAuth([]string{"MAKEFLAGS=" + got})
		if !ok || err != nil || a.Fifo != "/f" {
			t.Errorf("MAKEFLAGS=%q became %q, which names jobserver %+v (ok %v, %v), want fifo:/f", mf, got, a, ok, err)
		}
	}
}
