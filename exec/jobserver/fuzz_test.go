package jobserver

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzMakeflags: findAuth never panics on any MAKEFLAGS or CARGO_MAKEFLAGS;
// an auth it accepts is well formed (a fifo path, or two descriptors that
// print back to the same text); the environment jobserverEnv writes names
// its jobserver in MAKEFLAGS alone too (what make reads), and Scrub leaves
// no jobserver in it.
func FuzzMakeflags(f *testing.F) {
	for _, seed := range [][2]string{
		{"s -j3 --jobserver-auth=3,4", ""},
		{" -j --jobserver-fds=5,6", ""},
		{"-j --jobserver-fds=5,6 --jobserver-auth=fifo:/tmp/f", "-j --jobserver-auth=7,8"},
		{"k -- X=--jobserver-auth=3,4", ""},
		{"-j4", ""},
		{"--jobserver-auth=fifo:", ""},
		{"--jobserver-auth=-1,2", ""},
		{"ks -j8 --jobserver-auth=3,4 -- CC=gcc", ""},
		{"--", "-j"},
		{"x --", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, makeflags, cargo string) {
		env := []string{"MAKEFLAGS=" + makeflags}
		if cargo != "" {
			env = append(env, "CARGO_MAKEFLAGS="+cargo)
		}
		a, ok, err := findAuth(env)
		if ok && err == nil {
			switch {
			case strings.HasPrefix(a.Text, "fifo:"):
				if a.Fifo == "" || "fifo:"+a.Fifo != a.Text {
					t.Fatalf("findAuth(%q) = %+v: fifo path does not match the text", env, a)
				}
			default:
				if a.R < 0 || a.W < 0 {
					t.Fatalf("findAuth(%q) = %+v: negative descriptor", env, a)
				}
				if r, w, _ := strings.Cut(a.Text, ","); strconv.Itoa(a.R) != strings.TrimLeft(strings.TrimPrefix(r, "+"), "0") && a.R != 0 ||
					strconv.Itoa(a.W) != strings.TrimLeft(strings.TrimPrefix(w, "+"), "0") && a.W != 0 {
					t.Fatalf("findAuth(%q) = %+v: descriptors do not match the text", env, a)
				}
			}
		}

		const fifo = "fifo:/tmp/bld-fuzz"
		out := jobserverEnv(env, "--jobserver-auth="+fifo)
		mf, _ := lookupEnv(out, "MAKEFLAGS")
		got, ok, err := findAuth([]string{"MAKEFLAGS=" + mf})
		if !ok || err != nil || got.Text != fifo {
			t.Fatalf("jobserverEnv(%q) set MAKEFLAGS=%q, in which findAuth finds %+v, %v, %v; want %s", env, mf, got, ok, err, fifo)
		}
		if a, ok, _ := findAuth(Scrub(out)); ok {
			t.Fatalf("Scrub(%q) left a jobserver: %+v", out, a)
		}
	})
}
