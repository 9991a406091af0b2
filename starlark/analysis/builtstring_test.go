package analysis

import (
	"strings"
	"testing"
	"unsafe"
)

// TestBuiltStringKeepsNoRoom checks that an expanded command does not keep
// the room its builder had past its text (the string would keep the whole
// buffer alive for as long as the action), and that a builder used up to
// about its size is not copied.
func TestBuiltStringKeepsNoRoom(t *testing.T) {
	for _, tt := range []struct {
		name     string
		grow     int
		text     string
		wantCopy bool
	}{
		{"much room left", 1024, "cat a > b", true},
		{"grew past its room", 64, strings.Repeat("x", 65), true}, // doubled: 128 bytes for 65
		{"tight", 64, strings.Repeat("x", 64), false},
		{"a little room", 80, strings.Repeat("x", 72), false},
	} {
		var b strings.Builder
		b.Grow(tt.grow)
		b.WriteString(tt.text)
		got := builtString(&b)
		if got != tt.text {
			t.Errorf("%s: builtString = %q, want %q", tt.name, got, tt.text)
		}
		copied := unsafe.StringData(got) != unsafe.StringData(b.String())
		if copied != tt.wantCopy {
			t.Errorf("%s: copied = %v (len %d, cap %d), want %v", tt.name, copied, b.Len(), b.Cap(), tt.wantCopy)
		}
	}
}
