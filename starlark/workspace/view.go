package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"bld/exec/crash"
	"bld/exec/digest"
	"bld/exec/filestat"
	"bld/exec/regfile"
)

// A View answers the questions that loading and analysis ask of the
// workspace (the content of a file, the files a glob matches, the packages
// below a directory, whether a source file exists) and remembers each
// answer. A later run can re-ask the same questions (Reads.Changed): when
// every answer is the same, loading and analysis would produce the same
// action graph, and can be skipped.
//
// A View is safe for concurrent use.
type View struct {
	root string
	// dir stats IsFile's paths relative to root (fstatat(2) from a
	// descriptor of it: no absolute path built, nothing allocated);
	// opened at the first IsFile, closed when the View is collected.
	dirOnce sync.Once
	dir     *filestat.Dir
	mu      sync.Mutex
	reads   Reads
	// known, if not nil, answers IsFile for the paths it knows
	// (UseKnown).
	known func(rel string) (exists, ok bool)
}

// Reads are the answers a View gave, in a form that can be saved.
type Reads struct {
	// Files maps a file read (workspace-relative) to the SHA-256 of its
	// content, or to "" if it did not exist, or to a value no content
	// matches if two reads of it gave two contents.
	Files map[string]string
	// Globs lists each glob evaluated and its result.
	Globs []GlobRead
	// Packages maps a directory to the packages at or below it.
	Packages map[string][]string
	// Exists maps a path checked with IsFile to the answer.
	Exists map[string]bool
}

// GlobRead is one glob and its result.
type GlobRead struct {
	Pkg              string
	Include, Exclude []string
	Result           []string
}

// NewView returns a View of the workspace at root.
func NewView(root string) *View {
	return &View{root: root, reads: Reads{
		Files:    map[string]string{},
		Packages: map[string][]string{},
		Exists:   map[string]bool{},
	}}
}

// Root returns the workspace root.
func (v *View) Root() string { return v.root }

// ReadFile returns the content of the workspace file rel. It never
// blocks: a FIFO or a device at rel is an error (*regfile.NotRegularError).
func (v *View) ReadFile(rel string) ([]byte, error) {
	data, _, err := regfile.ReadFile(filepath.Join(v.root, filepath.FromSlash(rel)), true)
	sum := ""
	switch {
	case err == nil:
		sum = contentDigest(data)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err // not an answer worth remembering
	}
	v.mu.Lock()
	if prev, ok := v.reads.Files[rel]; ok && prev != sum {
		// Read twice with two contents (edited during the build, and
		// read again: a package evaluated again after its release).
		// What was built from it may mix both, so no content the file
		// can have matches the answer: the next build analyzes again.
		sum = changedWhileRead
	}
	v.reads.Files[rel] = sum
	v.mu.Unlock()
	return data, err
}

// changedWhileRead is the answer remembered for a file that a View read
// twice and found changed: it is no content's digest.
const changedWhileRead = "changed while read"

// Glob is the package function Glob, remembered.
func (v *View) Glob(pkg string, include, exclude []string) ([]string, error) {
	files, err := Glob(v.root, pkg, include, exclude)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.reads.Globs = append(v.reads.Globs, GlobRead{Pkg: pkg, Include: include, Exclude: exclude, Result: files})
	v.mu.Unlock()
	return files, nil
}

// Packages is the package function Packages, remembered.
func (v *View) Packages(dir string) ([]string, error) {
	pkgs, err := Packages(v.root, dir)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.reads.Packages[dir] = pkgs
	v.mu.Unlock()
	return pkgs, nil
}

// IsFile reports whether rel exists and is not a directory. A View asks
// the file system once per path: a path asked again gets the answer it
// remembers. Analysis resolves each source label through IsFile, and the
// action graph checks every input it did not find an action for against
// the same View (graph.New's sourceExists): without the memo, that was a
// second stat of every source, one after another on the way to the first
// command (1,000 at 1,000 genrules). One answer per path also keeps the
// two in agreement, and it is the answer the snapshot records; a source
// removed after it was asked fails the action that reads it (its hash
// finds no file), and the next build's staleness check sees the change.
func (v *View) IsFile(rel string) bool {
	v.mu.Lock()
	ok, asked := v.reads.Exists[rel]
	v.mu.Unlock()
	if asked {
		return ok
	}
	if v.known != nil {
		if ok, known := v.known(rel); known {
			v.mu.Lock()
			v.reads.Exists[rel] = ok
			v.mu.Unlock()
			return ok
		}
	}
	v.dirOnce.Do(func() {
		v.dir = filestat.OpenDir(v.root)
		runtime.AddCleanup(v, func(d *filestat.Dir) { d.Close() }, v.dir)
	})
	st, err := v.dir.Stat(rel)
	ok = err == nil && !st.Mode.IsDir()
	v.mu.Lock()
	v.reads.Exists[rel] = ok
	v.mu.Unlock()
	return ok
}

// UseKnown has IsFile take the answer of known for each path it knows,
// as its own, rather than stat'ing it: known gives answers taken earlier
// in the same build (the analysis snapshot's staleness check stats every
// path an earlier analysis asked IsFile about; an incremental analysis
// asks again about those of the packages it analyzes again). It must be
// called before IsFile is; known must be safe for concurrent use.
func (v *View) UseKnown(known func(rel string) (exists, ok bool)) { v.known = known }

// Reads returns the answers given so far. The View must not be used any
// more.
func (v *View) Reads() *Reads {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := v.reads
	// Globs are appended in evaluation order, which depends on which
	// package loaded first; sort them so that equal reads save equally.
	SortGlobs(r.Globs)
	return &r
}

// SortGlobs sorts globs by package, then include and exclude patterns.
func SortGlobs(globs []GlobRead) {
	sort.SliceStable(globs, func(i, j int) bool { return globLess(globs[i], globs[j]) })
}

func globLess(a, b GlobRead) bool {
	if a.Pkg != b.Pkg {
		return a.Pkg < b.Pkg
	}
	if c := slices.Compare(a.Include, b.Include); c != 0 {
		return c < 0
	}
	return slices.Compare(a.Exclude, b.Exclude) < 0
}

// Changed asks every question of r again in the workspace at root and
// returns a description of the first answer that differs, or "" if none
// does.
func (r *Reads) Changed(root string) string {
	v := NewView(root)
	for rel, want := range r.Files {
		data, err := v.ReadFile(rel)
		got := ""
		if err == nil {
			got = contentDigest(data)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Sprintf("%s: %v", rel, err)
		}
		if got != want {
			return rel + " changed"
		}
	}
	for rel, want := range r.Exists {
		if v.IsFile(rel) != want {
			return rel + " appeared or disappeared"
		}
	}
	for dir, want := range r.Packages {
		got, err := v.Packages(dir)
		if err != nil || !slices.Equal(got, want) {
			return "the packages under //" + dir + " changed"
		}
	}
	for _, g := range r.Globs {
		got, err := v.Glob(g.Pkg, g.Include, g.Exclude)
		if err != nil || !slices.Equal(got, g.Result) {
			return fmt.Sprintf("glob(%q) in //%s matches other files", g.Include, g.Pkg)
		}
	}
	return ""
}

// contentDigest is the hex SHA-256 of data, the answer Reads keeps for a
// file read.
func contentDigest(data []byte) string { return digest.OfBytes(data).Hash }

// fileDigest is contentDigest of the content of the file at path, read
// through digest.OfFile's reused buffers (reading each file into a buffer
// of its own, os.ReadFile, made 1.3 MB of fresh heap, ~300 page faults,
// in the staleness check of 100 BUILD files). Like ReadFile, it never
// blocks on a FIFO or a device (an error).
func fileDigest(path string) (string, error) {
	d, err := digest.OfFile(path)
	return d.Hash, err
}

// A Diff is what changed since Reads were taken: each answer that differs,
// with the answer now.
type Diff struct {
	// Files maps each file whose content changed to its digest now ("" if
	// it does not exist, "unreadable" if it cannot be read).
	Files map[string]string
	// Exists maps each path whose IsFile answer changed to the answer now.
	Exists map[string]bool
	// Globs are the globs whose result changed, with the result now.
	Globs []GlobRead
	// Packages are the directories whose packages changed.
	Packages []string
}

// Empty reports whether nothing changed.
func (d *Diff) Empty() bool {
	return len(d.Files) == 0 && len(d.Exists) == 0 && len(d.Globs) == 0 && len(d.Packages) == 0
}

// Diff asks every question of r again in the workspace at root, as
// Changed does, and returns every answer that differs.
func (r *Reads) Diff(root string) *Diff { return r.DiffStats(root, nil) }

// DiffStats is Diff, and adds to stats (unless nil) the stat of each file
// whose existence it checks and found, for the rest of the build to use
// instead of stat'ing it again.
func (r *Reads) DiffStats(root string, stats *filestat.Set) *Diff {
	d := &Diff{Files: map[string]string{}, Exists: map[string]bool{}}
	// The questions are independent: ask them in parallel (a few
	// thousand stats and reads at 10k targets). The package searches
	// (a walk of the workspace for //...) and globs go on beside the
	// reads and stats, rather than after them with one core idle.
	searched := make(chan struct{})
	crash.Go(func() {
		defer close(searched)
		r.diffSearches(root, d)
	})
	files := make([]string, 0, len(r.Files))
	for rel := range r.Files {
		files = append(files, rel)
	}
	digests := make([]string, len(files))
	parallel(len(files), readBatch, func(i int) {
		d, err := fileDigest(filepath.Join(root, filepath.FromSlash(files[i])))
		switch {
		case err == nil:
			digests[i] = d
		case !errors.Is(err, fs.ErrNotExist):
			digests[i] = "unreadable"
		}
	})
	for i, rel := range files {
		if digests[i] != r.Files[rel] {
			d.Files[rel] = digests[i]
		}
	}
	paths := make([]string, 0, len(r.Exists))
	for rel := range r.Exists {
		paths = append(paths, rel)
	}
	// Each stat is relative to a descriptor of the root (fstatat, where
	// there is one): no path is joined and no FileInfo made.
	dir := filestat.OpenDir(root)
	defer dir.Close()
	exists := make([]bool, len(paths))
	infos := make([]filestat.Stat, len(paths))
	parallel(len(paths), statBatch, func(i int) {
		st, err := dir.Stat(paths[i])
		exists[i] = err == nil && !st.Mode.IsDir()
		infos[i] = st
	})
	for i, rel := range paths {
		if exists[i] != r.Exists[rel] {
			d.Exists[rel] = exists[i]
		}
		if exists[i] && stats != nil {
			stats.Add(rel, infos[i])
		}
	}
	<-searched
	return d
}

// diffSearches sets d.Packages and d.Globs: the package searches and globs
// of r whose answers in the workspace at root differ.
func (r *Reads) diffSearches(root string, d *Diff) {
	for dir, want := range r.Packages {
		got, err := Packages(root, dir)
		if err != nil || !slices.Equal(got, want) {
			d.Packages = append(d.Packages, dir)
		}
	}
	sort.Strings(d.Packages)
	for _, g := range r.Globs {
		got, err := Glob(root, g.Pkg, g.Include, g.Exclude)
		if err != nil || !slices.Equal(got, g.Result) {
			g.Result = got
			d.Globs = append(d.Globs, g)
		}
	}
}

// The batches of parallel: stats, and reads of whole files. Reads went 8
// a batch for a while (the 100 BUILD files of 10,000 targets were read on
// one goroutine); not kept: reading and hashing them all takes ~2.3 ms on
// one core, so two cores could save ~1 ms of a no-op at best, while the
// package walk runs beside them, and no measurement showed it (issue 13,
// tenth session, docs/benchmarks.md).
const (
	statBatch = 256
	readBatch = statBatch
)

// parallel calls f(0) ... f(n-1) from a few goroutines, each taking batch
// indices at a time, and returns when all have returned. A batch should
// be worth a goroutine: a few hundred stats, a few file reads.
func parallel(n, batch int, f func(i int)) {
	workers := min(2*runtime.GOMAXPROCS(0), (n+batch-1)/batch)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		crash.Go(func() {
			defer wg.Done()
			for {
				start := int(next.Add(int64(batch))) - batch
				if start >= n {
					return
				}
				for i := start; i < min(start+batch, n); i++ {
					f(i)
				}
			}
		})
	}
	wg.Wait()
}
