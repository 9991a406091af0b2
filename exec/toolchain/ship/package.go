package ship

import (
	"bld/exec/crash"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// linkSpecs is the specs file that makes the driver run ld (found like as,
// in its program directories) where it would run collect2, so that ld too
// starts through the -wrapper loader. collect2 passes ld its arguments
// unchanged when there is nothing to collect (ELF with .init_array), which
// is gcc's case on GNU/Linux; the outputs are identical (tested).
const linkSpecs = "*linker:\nld\n\n"

// specsPath is the local-style path of the generated specs file.
const specsPath = "/bld-link.specs"

// Options choose what Package ships besides the programs and the default
// link's files.
type Options struct {
	// CXX also ships what C++ needs that the driver's C probes do not
	// show: libstdc++ for the link probe and, with IncludeDirs, the C++
	// include directories. The C++ compiler proper (cc1plus) is shipped
	// in any case.
	CXX bool
	// IncludeDirs ships every file of the include directories the driver
	// searches (gcc -E -Wp,-v), instead of only the headers given as
	// extraFiles. It is simple and large (all of /usr/include).
	IncludeDirs bool
	// Libs are the libraries (-l names) the link probe links, whose files
	// are shipped; nil means just the math library ("m").
	Libs []string
}

func (o Options) libs() []string {
	libs := o.Libs
	if libs == nil {
		libs = []string{"m"}
	}
	if o.CXX {
		libs = append(append([]string{}, libs...), "stdc++")
	}
	return libs
}

// A Packager packages toolchains, remembering them in MemoFile across
// builds. The zero Packager has no memo. A Packager may be used by one
// goroutine at a time; concurrent builds sharing a MemoFile lose at worst
// an update (the file is replaced atomically).
type Packager struct {
	Options
	// MemoFile is the JSON file that remembers packages by their weak key
	// (the driver's path, extraFiles, Options and the environment the
	// probes read), with the stamp (size, modification and change times,
	// inode, mode) of each local file, and file digests by stamp. "" means
	// no memo. A memo that cannot be read is ignored; one that cannot be
	// written is an error.
	MemoFile string
	// Hashed, when not nil, is called with the local path of each file
	// Package reads to hash it (tests count them).
	Hashed func(path string)
}

// Package packages the toolchain of the gcc driver at driverPath
// (absolute; symbolic links allowed) as run with the environment env
// (PATH finds as and ld, as when the action runs), shipping besides the
// driver's own files the regular files extraFiles (absolute: the system
// headers local compiles' depfiles named). See the package comment for
// what is shipped, and Packager for the memo.
func Package(ctx context.Context, driverPath string, env []string, extraFiles []string) (*Toolchain, error) {
	return (&Packager{}).Package(ctx, driverPath, env, extraFiles)
}

// Package packages as the function Package does, with p's Options. When
// the memo has an entry for the weak key whose local files all have the
// stamps they had, it is returned without running the driver or hashing
// anything; otherwise the toolchain is discovered again, the files whose
// stamps match a remembered digest are not hashed again, and the memo is
// updated.
func (p *Packager) Package(ctx context.Context, driverPath string, env []string, extraFiles []string) (*Toolchain, error) {
	key := weakKey(driverPath, env, extraFiles, p.Options)
	m := loadMemo(p.MemoFile)
	if t := m.lookup(key); t != nil {
		return t, nil
	}
	c, err := collect(ctx, driverPath, env, extraFiles, p.Options)
	if err != nil {
		return nil, err
	}
	t, stamps, err := p.build(c, m)
	if err != nil {
		return nil, err
	}
	m.store(key, t, stamps)
	if err := m.save(p.MemoFile); err != nil {
		return nil, err
	}
	return t, nil
}

// build hashes the files of c (those m remembers by stamp excepted) and
// makes the Toolchain, returning also the stamps it saw.
func (p *Packager) build(c *collection, m *memo) (*Toolchain, map[string]stamp, error) {
	paths := make([]string, 0, len(c.files))
	for f := range c.files {
		if strings.ContainsAny(f, "\n\x00") {
			return nil, nil, fmt.Errorf("toolchain file %q: a newline in a path cannot be shipped", f)
		}
		paths = append(paths, f)
	}
	for _, d := range c.libDirs {
		if strings.ContainsAny(d, ",:") {
			return nil, nil, fmt.Errorf("library directory %q: a comma or colon cannot be in the loader's --library-path", d)
		}
	}
	sort.Strings(paths)
	stamps := make(map[string]stamp, len(paths))
	for _, f := range paths {
		s, err := stampOf(f)
		if err != nil {
			return nil, nil, fmt.Errorf("toolchain file %s: %w", f, err)
		}
		stamps[f] = s
	}
	digests, err := p.hashAll(paths, stamps, m)
	if err != nil {
		return nil, nil, err
	}
	t := &Toolchain{
		Local:       map[string]string{},
		Generated:   map[string][]byte{},
		Driver:      c.driver,
		Loader:      c.loader,
		LibraryDirs: c.libDirs,
		ProgramDirs: c.progDirs,
		Specs:       specsPath,
	}
	type entry struct {
		local string
		d     digest.Digest
		exec  bool
	}
	entries := make([]entry, 0, len(paths)+1)
	for _, f := range paths {
		entries = append(entries, entry{f, digests[f], stamps[f].Mode&0o111 != 0})
	}
	entries = append(entries, entry{specsPath, digest.OfBytes([]byte(linkSpecs)), false})
	sort.Slice(entries, func(i, j int) bool { return entries[i].local < entries[j].local })

	var listing strings.Builder
	fmt.Fprintf(&listing, "driver %s\nloader %s\nlibdirs %s\nprogdirs %s\n", t.Driver, t.Loader,
		strings.Join(t.LibraryDirs, ":"), strings.Join(t.ProgramDirs, ":"))
	for _, e := range entries {
		fmt.Fprintf(&listing, "%s\x00%s\x00%t\n", e.local, e.d, e.exec)
	}
	t.ID = digest.OfBytes([]byte(listing.String()))
	t.Prefix = PrefixDir + "/" + t.ID.Hash[:12]
	for _, e := range entries {
		in := t.In(e.local)
		t.Files = append(t.Files, reapi.InputFile{Path: in, Digest: e.d, IsExecutable: e.exec})
		if e.local == specsPath {
			t.Generated[in] = []byte(linkSpecs)
		} else {
			t.Local[in] = e.local
		}
	}
	return t, stamps, nil
}

// hashAll returns the digest of each of paths: remembered in m for the
// same stamp, or computed (once per inode, in parallel).
func (p *Packager) hashAll(paths []string, stamps map[string]stamp, m *memo) (map[string]digest.Digest, error) {
	out := make(map[string]digest.Digest, len(paths))
	byInode := map[string][]string{} // files to hash, by device and inode
	var todo []string
	for _, f := range paths {
		if d, ok := m.digest(f, stamps[f]); ok {
			out[f] = d
			continue
		}
		id := strconv.FormatUint(stamps[f].Dev, 10) + ":" + strconv.FormatUint(stamps[f].Ino, 10)
		if len(byInode[id]) == 0 {
			todo = append(todo, id)
		}
		byInode[id] = append(byInode[id], f)
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		work     = make(chan string)
	)
	for range min(runtime.GOMAXPROCS(0), 8) {
		wg.Add(1)
		crash.Go(func() {
			defer wg.Done()
			for id := range work {
				f := byInode[id][0]
				if p.Hashed != nil {
					mu.Lock()
					p.Hashed(f)
					mu.Unlock()
				}
				d, err := digest.OfFile(f)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("hashing toolchain file %s: %w", f, err)
				}
				for _, g := range byInode[id] {
					out[g] = d
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range todo {
		work <- id
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// weakKey names a packaging request: what Package was given and the
// environment variables its probes read.
func weakKey(driverPath string, env, extraFiles []string, o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "driver=%s\ncxx=%t\nincludedirs=%t\nlibs=%s\n", filepath.Clean(driverPath), o.CXX, o.IncludeDirs, strings.Join(o.libs(), ","))
	for _, kv := range env {
		for _, name := range []string{"PATH", "GCC_EXEC_PREFIX", "COMPILER_PATH", "LIBRARY_PATH", "LD_LIBRARY_PATH"} {
			if strings.HasPrefix(kv, name+"=") {
				b.WriteString("env " + kv + "\n")
			}
		}
	}
	extra := append([]string{}, extraFiles...)
	sort.Strings(extra)
	for _, f := range extra {
		b.WriteString("extra " + f + "\n")
	}
	return digest.OfBytes([]byte(b.String())).Hash
}

// stampOf returns the stamp of the file p (symbolic links followed).
func stampOf(p string) (stamp, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return stamp{}, err
	}
	if !fi.Mode().IsRegular() {
		return stamp{}, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return statStamp(fi), nil
}
