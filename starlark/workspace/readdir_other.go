//go:build !linux

package workspace

import (
	"io/fs"
	"os"
)

// readDir calls f with the name and type (fs.FileMode's type bits) of each
// entry of the directory abs, as (*os.File).ReadDir gives them. buf is
// unused here.
func readDir(abs string, buf []byte, f func(name string, typ fs.FileMode)) error {
	d, err := os.Open(abs)
	if err != nil {
		return err
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, e := range entries {
		f(e.Name(), e.Type())
	}
	return nil
}
