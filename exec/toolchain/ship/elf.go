package ship

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// sharedLibraries adds the dynamic loader of the ELF files elves (they
// must all name the same one, PT_INTERP) and every shared library each
// loads, as the loader resolves them here (loader --list, which ldd runs),
// and records the loader and the libraries' directories.
func (c *collection) sharedLibraries(ctx context.Context, elves []string) error {
	for _, f := range elves {
		interp, err := interpreter(f)
		if err != nil {
			return err
		}
		if interp == "" {
			continue // a shared library (liblto_plugin.so)
		}
		if c.loader != "" && c.loader != interp {
			return fmt.Errorf("%s: dynamic loader %s, but other programs use %s", f, interp, c.loader)
		}
		c.loader = interp
	}
	if c.loader == "" {
		return fmt.Errorf("%s: no dynamic loader (PT_INTERP); a static driver is not supported", elves[0])
	}
	c.add(c.loader)
	for _, f := range elves {
		// An empty environment: LD_LIBRARY_PATH must not change the answer.
		out, err := run(ctx, "", nil, c.loader, "--list", f)
		if err != nil {
			return fmt.Errorf("shared libraries of %s: %w", f, err)
		}
		libs, err := parseList(out)
		if err != nil {
			return fmt.Errorf("shared libraries of %s: %w", f, err)
		}
		for _, lib := range libs {
			c.add(lib)
			c.libDirs = appendNew(c.libDirs, filepath.Dir(filepath.Clean(lib)))
		}
	}
	return nil
}

// interpreter returns the PT_INTERP of the ELF file f, "" when it has none.
func interpreter(f string) (string, error) {
	ef, err := elf.Open(f)
	if err != nil {
		return "", fmt.Errorf("reading %s as ELF: %w", f, err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return "", fmt.Errorf("reading PT_INTERP of %s: %w", f, err)
		}
		return strings.TrimRight(string(b), "\x00"), nil
	}
	return "", nil
}

// parseList returns the resolved paths of the libraries in the output of
// "ld.so --list" ("\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"),
// the loader's own line and the vDSO left out. A library not found is an
// error.
func parseList(out string) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, target, ok := strings.Cut(line, " => ")
		if !ok {
			continue // the loader itself, or linux-vdso.so.1
		}
		if strings.HasPrefix(target, "not found") {
			return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
		if i := strings.LastIndex(target, " (0x"); i >= 0 {
			target = target[:i]
		}
		if !filepath.IsAbs(target) {
			return nil, errors.New("unexpected line: " + line)
		}
		libs = append(libs, target)
	}
	return libs, nil
}
