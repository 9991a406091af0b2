package cache

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// appendRecord makes the bytes json.Marshal makes, which parse back to the
// same record.
func TestAppendRecordIsJSONMarshal(t *testing.T) {
	weird := []string{"", "plain", `quo"te`, `back\slash`, "tab\there", "nl\n", "<html>&", "caf\u00e9", "bad\xffutf8", "\u2028", "\x00\x1f\x7f"}
	records := []*record{
		{},
		{Key: "k"},
		{Key: "abc", Argv: []string{"/bin/sh", "-c", "cat a > b"}, Env: []string{"PATH=/bin"}, Tool: "/bin/sh", ToolDigest: "d/1",
			Inputs:  []recordInput{{Path: "p/a", Digest: "h/7"}, {Path: "p/x", Digest: "h/8", Exec: true}},
			Outputs: []recordInput{{Path: "bld-out/p/b", Digest: "h/7"}}},
		{Key: "w", Content: "h/3", Executable: true, ReadSet: []string{"a.h", "/usr/include/stdio.h"}, Shadows: []string{"b.h"}},
		{Key: weird[2], Argv: weird, Env: weird, Tool: weird[3], ToolDigest: weird[8], Content: weird[7],
			Inputs: []recordInput{{Path: weird[5], Digest: weird[9]}}, Outputs: []recordInput{{Path: weird[10], Digest: weird[6], Exec: true}},
			ReadSet: weird, Shadows: weird},
		{Key: "empty lists", Argv: []string{}, Inputs: []recordInput{}},
	}
	for _, r := range records {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got := appendRecord([]byte("prefix "), r)
		if string(got) != "prefix "+string(want) {
			t.Errorf("appendRecord(%+v) =\n%s\nwant\n%s", r, got[len("prefix "):], want)
		}
		var back record
		if err := json.Unmarshal(got[len("prefix "):], &back); err != nil {
			t.Errorf("appendRecord(%+v) does not parse: %v", r, err)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"`, "\\", "<", "\xff", "\u2029", "é", "\b\f\x01\x7f>&", "cat a > b && echo \"x\"\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Skip()
		}
		if diff := cmp.Diff(string(want), string(appendJSONString(nil, s))); diff != "" {
			t.Errorf("appendJSONString(%q): (-json.Marshal +got)\n%s", s, diff)
		}
	})
}
