package ship

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"bld/exec/program"
	"bld/exec/toolchain"
)

// runTimeout bounds each command Package runs.
const runTimeout = 30 * time.Second

// A collection is what discovery found: the local files to ship and what
// Rewrite needs to run them.
type collection struct {
	files    map[string]bool // local absolute paths, lexically clean
	driver   string
	loader   string
	libDirs  []string
	progDirs []string
}

func (c *collection) add(p string) { c.files[filepath.Clean(p)] = true }

// collect finds the files of the toolchain of the driver at driverPath
// (absolute) run with environment env, plus extraFiles (absolute).
func collect(ctx context.Context, driverPath string, env, extraFiles []string, opts Options) (*collection, error) {
	if !filepath.IsAbs(driverPath) {
		return nil, fmt.Errorf("driver %s: not an absolute path", driverPath)
	}
	real, err := filepath.EvalSymlinks(driverPath)
	if err != nil {
		return nil, fmt.Errorf("driver %s: %w", driverPath, err)
	}
	c := &collection{files: map[string]bool{}, driver: real}
	c.add(real)
	elves := []string{real}

	id, err := toolchain.Probe(ctx, "/", driverPath, nil, env)
	if err != nil {
		return nil, fmt.Errorf("probing %s: %w", driverPath, err)
	}
	for _, name := range id.Programs {
		if filepath.Base(name) == "lto1" {
			continue // link-time optimization is not supported remotely
		}
		prog, err := program.Find("/", name, env)
		if err != nil {
			continue // the driver does without it (or fails locally too)
		}
		c.add(prog.Path)
		elves = append(elves, prog.Path)
		if !strings.Contains(name, "/") {
			c.progDirs = appendNew(c.progDirs, filepath.Dir(prog.Path))
		}
	}
	if plugin, err := run(ctx, "", env, driverPath, "-print-file-name=liblto_plugin.so"); err == nil {
		if p := strings.TrimSpace(plugin); filepath.IsAbs(p) && isFile(p) {
			c.add(p) // ld loads it: the driver always passes -plugin
			elves = append(elves, p)
		}
	}
	if err := c.linkFiles(ctx, driverPath, env, opts.libs()); err != nil {
		return nil, err
	}
	incDirs, err := includeDirs(ctx, driverPath, env, opts.CXX)
	if err != nil {
		return nil, err
	}
	for _, d := range incDirs {
		if p := filepath.Join(d, "stdc-predef.h"); isFile(p) {
			c.add(p) // gcc includes it implicitly
			break
		}
	}
	if opts.IncludeDirs {
		for _, d := range incDirs {
			if err := c.addTree(d); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range extraFiles {
		if !filepath.IsAbs(f) {
			return nil, fmt.Errorf("extra file %s: not an absolute path", f)
		}
		if !isFile(f) {
			return nil, fmt.Errorf("extra file %s: not a regular file", f)
		}
		c.add(f)
	}
	if err := c.sharedLibraries(ctx, elves); err != nil {
		return nil, err
	}
	return c, nil
}

// linkFiles adds the files ld opens when the driver links a trivial C
// program with the libraries libs (-l names), by ld's --trace (and the
// targets of those that are symbolic links, which name the libraries by
// the soname the linked program loads), and the
// other start files (crt*.o) and libgcc archives beside those it opened,
// for -static, -shared and -no-pie links.
func (c *collection) linkFiles(ctx context.Context, driverPath string, env, libs []string) error {
	dir, err := os.MkdirTemp("", "bld-ship-")
	if err != nil {
		return fmt.Errorf("link probe: %w", err)
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "main.c")
	if err := os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644); err != nil {
		return fmt.Errorf("link probe: %w", err)
	}
	args := []string{"-Wl,--trace", "-o", filepath.Join(dir, "main"), src}
	for _, l := range libs {
		args = append(args, "-l"+l)
	}
	probeEnv := append(append([]string{}, env...), "TMPDIR="+dir) // its temporary objects too
	out, err := run(ctx, dir, probeEnv, driverPath, args...)
	if err != nil {
		return fmt.Errorf("link probe: %w", err)
	}
	dirs := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(p, '('); i >= 0 && strings.HasSuffix(p, ")") {
			p = p[i+1 : len(p)-1] // "-lc (/path)" or "archive(member)" forms
		}
		if !filepath.IsAbs(p) || strings.HasPrefix(p, dir) || !isFile(p) {
			continue
		}
		c.add(p)
		for _, name := range linkChain(p) {
			// libstdc++.so -> libstdc++.so.6 -> libstdc++.so.6.0.30: the
			// soname the linked program loads, to run it from the package.
			if isFile(name) {
				c.add(name)
			}
		}
		base := filepath.Base(p)
		if strings.HasPrefix(base, "crt") || strings.HasSuffix(base, "crt1.o") || strings.HasPrefix(base, "libgcc") {
			dirs[filepath.Dir(p)] = true
		}
	}
	for d := range dirs {
		for _, pattern := range []string{"*crt*.o", "libgcc*.a"} {
			matches, _ := filepath.Glob(filepath.Join(d, pattern))
			for _, m := range matches {
				if isFile(m) {
					c.add(m)
				}
			}
		}
	}
	return nil
}

// includeDirs returns the directories the driver searches for <headers>
// in C (and C++ when cxx), in order, as gcc -E -Wp,-v shows them.
func includeDirs(ctx context.Context, driverPath string, env []string, cxx bool) ([]string, error) {
	langs := []string{"c"}
	if cxx {
		langs = append(langs, "c++")
	}
	var dirs []string
	for _, lang := range langs {
		var stderr bytes.Buffer
		if err := runTo(ctx, "", env, nil, &stderr, driverPath, "-E", "-Wp,-v", "-x"+lang, os.DevNull); err != nil {
			return nil, fmt.Errorf("include directories of %s: %w: %s", lang, err, strings.TrimSpace(stderr.String()))
		}
		in := false
		for _, line := range strings.Split(stderr.String(), "\n") {
			switch {
			case strings.HasPrefix(line, "#include <...> search starts here:"):
				in = true
			case strings.HasPrefix(line, "End of search list."):
				in = false
			case in && strings.HasPrefix(line, " "):
				dirs = appendNew(dirs, filepath.Clean(strings.TrimSpace(line)))
			}
		}
	}
	return dirs, nil
}

// addTree adds every regular file under dir (symbolic links to regular
// files included, as files).
func (c *collection) addTree(dir string) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isFile(p) {
			c.add(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("include directory %s: %w", dir, err)
	}
	return nil
}

// run runs name with args in dir with environment env and returns its
// standard output; a failure's error holds its standard error.
func run(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	if err := runTo(ctx, dir, env, &stdout, &stderr, name, args...); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func runTo(ctx context.Context, dir string, env []string, stdout, stderr *bytes.Buffer, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{}, env...)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = stderr
	return cmd.Run()
}

// linkChain returns the names the symbolic link p leads through, up to
// the file it ends at (each target taken from the directory of its link),
// or nothing when p is not a link. A loop ends the chain.
func linkChain(p string) []string {
	var names []string
	for range 40 {
		target, err := os.Readlink(p)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
		names = append(names, p)
	}
	return names
}

// isFile reports whether p is a regular file, symbolic links followed.
func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
