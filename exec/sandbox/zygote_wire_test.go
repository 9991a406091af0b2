package sandbox

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A request survives its encoding; anything else, cut short or with
// bytes after it, is refused.
func TestRequestEncoding(t *testing.T) {
	for _, r := range []zygoteRequest{
		{Files: 1},
		{Plan: mountPlan{Root: "/w", Inputs: []string{"a/b.c", "d"}, Outs: []outBind{{Dir: ".", Pool: "/w/bld-out/.bld/sandbox/out1"}, {Dir: "x", Pool: "/p"}}, Dirs: []string{"bld-out/p"}},
			Path: "/bin/sh", Argv: []string{"sh", "-c", "cat a/b.c > bld-out/p/o"}, Env: []string{"PATH=/bin", "X="}, Pidns: true, WantPid: true, Files: 3},
		{Path: "/bin/true", Argv: []string{"true"}, Pidns: true, Files: 1},
		{Path: string(make([]byte, 300)), Argv: []string{""}, Files: 64},
	} {
		b := appendRequest(nil, &r)
		got, err := parseRequest(b)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if diff := cmp.Diff(&r, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		// The zygote reuses its buffer for the next request: the
		// parsed strings must not share it.
		clear(b)
		if diff := cmp.Diff(&r, got); diff != "" {
			t.Errorf("after the buffer's reuse (-want +got):\n%s", diff)
		}
		b = appendRequest(nil, &r)
		for i := range b {
			if _, err := parseRequest(b[:i]); err == nil {
				t.Errorf("%+v cut to %d bytes: no error", r, i)
			}
		}
		if _, err := parseRequest(append(b, 0)); err == nil {
			t.Errorf("%+v with a byte more: no error", r)
		}
	}
}

// Messages carry their kind and id.
func TestMessageHeader(t *testing.T) {
	m := append(appendMsg(nil, msgExit, 1<<40+7), "body"...)
	kind, id, body, ok := parseMsg(m)
	if !ok || kind != msgExit || id != 1<<40+7 || string(body) != "body" {
		t.Errorf("parseMsg = %c %d %q %v", kind, id, body, ok)
	}
	if _, _, _, ok := parseMsg(m[:msgHeader-1]); ok {
		t.Error("a short message parsed")
	}
}
