package query

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokenize(t *testing.T) {
	toks, err := tokenize(`kind("cc_.* rule", deps(//a/...:all, 2)) - 'x y'`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range toks {
		s := tk.text
		if tk.quoted {
			s = "«" + s + "»"
		}
		got = append(got, s)
	}
	want := []string{"kind", "(", "«cc_.* rule»", ",", "deps", "(", "//a/...:all", ",", "2", ")", ")", "-", "«x y»"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
	if _, err := tokenize(`kind("unterminated`); err == nil {
		t.Error("an unterminated quote was accepted")
	}
}
