package shell

import (
	"os/exec"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		// Plain words stay as they are.
		{"p/a.txt", "p/a.txt"},
		{"bld-out/p/a_b+c=d:e,f@g%h-i.o", "bld-out/p/a_b+c=d:e,f@g%h-i.o"},
		{"ABCxyz0189", "ABCxyz0189"},
		// Anything else is single-quoted.
		{"", "''"},
		{"a b", "'a b'"},
		{"a.txt;touch INJECTED;.txt", "'a.txt;touch INJECTED;.txt'"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{`say "hi"`, `'say "hi"'`},
		{"$HOME", "'$HOME'"},
		{"`id`", "'`id`'"},
		{"$(id)", "'$(id)'"},
		{"a\\b", `'a\b'`},
		{"*.c", "'*.c'"},
		{"~x", "'~x'"},
		{"a\nb", "'a\nb'"},
		{"héllo", "'héllo'"},
		{"p/日本.txt", "'p/日本.txt'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestShellQuoteRoundTrip runs sh on each quoted word: it must print the
// word back unchanged and run nothing else.
func TestQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, s := range []string{"plain/p.txt", "a b", "it's", "''", `"`, "$HOME", "`echo x`", "$(echo x)", "a;b", "a\\nb", "ünï cödé", "-n", "*"} {
		out, err := exec.Command(sh, "-c", "printf '%s' "+Quote(s)).Output()
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if string(out) != s {
			t.Errorf("sh printed %q for Quote(%q) = %q", out, s, Quote(s))
		}
	}
}

func TestShellJoin(t *testing.T) {
	if got, want := Join([]string{"p/a.txt", "p/b c.txt", "p/d'e"}), `p/a.txt 'p/b c.txt' 'p/d'\''e'`; got != want {
		t.Errorf("Join = %q, want %q", got, want)
	}
	if got := Join(nil); got != "" {
		t.Errorf("Join(nil) = %q, want empty", got)
	}
}
