package executor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBoundedOutput(t *testing.T) {
	// Lines numbered 0..N-1, written in uneven chunks.
	var all bytes.Buffer
	for i := 0; all.Len() < 3*(outputHeadLimit+outputTailLimit); i++ {
		fmt.Fprintf(&all, "line %07d\n", i)
	}
	for _, tc := range []struct {
		name    string
		size    int
		logPath bool
	}{
		{"small", 1000, true},
		{"exactly the limit", outputHeadLimit + outputTailLimit, true},
		{"large", all.Len(), true},
		{"large without a log", all.Len(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := all.Bytes()[:tc.size]
			b := &boundedOutput{}
			if tc.logPath {
				b.logPath = filepath.Join(t.TempDir(), "logs", "bld-out_p_x.log")
			}
			for p := data; len(p) > 0; {
				k := min(len(p), 7919) // a prime: chunks straddle the limits
				b.Write(p[:k])
				p = p[k:]
			}
			got := b.Bytes()
			if tc.size <= outputHeadLimit+outputTailLimit {
				if !bytes.Equal(got, data) {
					t.Fatalf("kept %d bytes, want all %d unchanged", len(got), len(data))
				}
				return
			}
			head, tail := data[:outputHeadLimit], data[len(data)-outputTailLimit:]
			if !bytes.HasPrefix(got, head) || !bytes.HasSuffix(got, tail) {
				t.Errorf("kept output does not start with the head and end with the tail")
			}
			omitted := len(data) - outputHeadLimit - outputTailLimit
			note := string(got[outputHeadLimit : len(got)-outputTailLimit])
			if !strings.Contains(note, fmt.Sprintf("%d bytes of output left out", omitted)) {
				t.Errorf("note %q does not say %d bytes were left out", note, omitted)
			}
			if !tc.logPath {
				return
			}
			if !strings.Contains(note, b.logPath) {
				t.Errorf("note %q does not name the log %s", note, b.logPath)
			}
			if whole, err := os.ReadFile(b.logPath); err != nil || !bytes.Equal(whole, data) {
				t.Errorf("the log holds %d bytes (%v), want the whole %d", len(whole), err, len(data))
			}
		})
	}
}
