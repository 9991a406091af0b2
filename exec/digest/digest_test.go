package digest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestDigest(t *testing.T) {
	d := OfBytes([]byte("abc"))
	if d.Hash != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" || d.Size != 3 {
		t.Errorf("OfBytes(abc) = %v", d)
	}
	p, err := Parse(d.String())
	if err != nil || p != d {
		t.Errorf("Parse(%q) = %v, %v", d.String(), p, err)
	}
	for _, bad := range []string{"", "abc/3", d.Hash, d.Hash + "/-1", d.Hash[:63] + "A/3"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	if Empty.Hash != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("Empty = %v", Empty)
	}
}

func TestOfFileSizes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, readBufferSize - 1, readBufferSize, readBufferSize + 1, 3*readBufferSize + 7} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + n)
		}
		name := filepath.Join(dir, fmt.Sprint(n))
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := OfFile(name)
		if err != nil {
			t.Fatalf("OfFile of %d bytes: %v", n, err)
		}
		if want := OfBytes(data); got != want {
			t.Errorf("OfFile of %d bytes = %v, want %v", n, got, want)
		}
	}
}
