package remoteexec

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"bld/exec/digest"

	"bld/exec/graph"
	"bld/exec/program"
	"bld/exec/reapi"
	"bld/exec/remote"
	"bld/exec/toolchain"
	"bld/exec/toolchain/ship"
)

// Shipping toolchains (Options.Ship).
//
// A compile whose argv[0] is a gcc driver runs on the worker with the
// toolchain bld resolved here, packaged by exec/toolchain/ship and placed
// in its input root under .bld-toolchain/<id>: a worker with no compiler
// installed compiles what this machine would. The package ships the
// include directories gcc searches whole, so that its identity does not
// change with each header a build discovers (every remote key would). Its
// blobs are uploaded once per build and toolchain: the runner remembers
// which digests the service has. Its depfile is rewritten back to the
// local header paths before bld reads it.
//
// Links run here: a link reads libraries the -l flags name, which the
// package has only for the default link; and so do commands ship cannot
// rewrite faithfully (ship.CanRewrite: LTO links, their own --sysroot,
// ...).

// shipper packages and remembers the toolchains of one build.
type shipper struct {
	root     string
	packager *ship.Packager
	mu       sync.Mutex // serializes packaging (the Packager's memo)
	byDriver map[string]*ship.Toolchain
	failed   map[string]error
}

func newShipper(root, memoFile string) *shipper {
	return &shipper{
		root:     root,
		packager: &ship.Packager{Options: ship.Options{IncludeDirs: true, CXX: true}, MemoFile: memoFile},
		byDriver: map[string]*ship.Toolchain{},
		failed:   map[string]error{},
	}
}

// isGCC reports whether argv0 names a gcc driver (gcc, g++, cc, c++, with
// a target prefix or version suffix), the kind ship packages.
func isGCC(argv0 string) bool {
	base := path.Base(filepath.ToSlash(argv0))
	return toolchain.IsDriver(argv0) && !strings.Contains(base, "clang") && !strings.Contains(base, "rustc") && !strings.Contains(base, "bolt")
}

// ships reports whether a's command runs a gcc driver, so that with
// shipping on it runs remotely only when shipped; and whether it can be.
func ships(a *graph.Action) (driver, shippable bool) {
	if len(a.Argv) == 0 || !isGCC(a.Argv[0]) {
		return false, false
	}
	if !slices.Contains(a.Argv[1:], "-c") {
		return true, false // a link: see above
	}
	return true, (&ship.Toolchain{}).CanRewrite(a.Argv) == nil
}

// toolchainOf returns the package of the driver a runs, packaging it the
// first time.
func (s *shipper) toolchainOf(ctx context.Context, a *graph.Action) (*ship.Toolchain, error) {
	prog, err := program.Find(s.root, a.Argv[0], a.Env)
	if err != nil {
		return nil, fmt.Errorf("finding %s to ship it: %w", a.Argv[0], err)
	}
	key := prog.Path + "\x00" + strings.Join(a.Env, "\x00")
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.byDriver[key]; t != nil {
		return t, nil
	}
	if err := s.failed[key]; err != nil {
		return nil, err
	}
	t, err := s.packager.Package(ctx, prog.Path, a.Env, nil)
	if err != nil {
		err = fmt.Errorf("packaging the toolchain of %s: %w", prog.Path, err)
		s.failed[key] = err
		return nil, err
	}
	s.byDriver[key] = t
	return t, nil
}

// shipped rewrites a's command to run t from the input root, adds t's
// files to files (sorted) and their contents to blobs.
func shipped(t *ship.Toolchain, a *graph.Action, files []reapi.InputFile, blobs []remote.Blob) (argv, env []string, _ []reapi.InputFile, _ []remote.Blob) {
	argv, env = t.Rewrite(a.Argv, a.Env)
	files = append(files, t.Files...)
	slices.SortFunc(files, func(x, y reapi.InputFile) int { return strings.Compare(x.Path, y.Path) })
	for _, f := range t.Files {
		b := remote.Blob{Digest: f.Digest}
		if data, ok := t.Generated[f.Path]; ok {
			b.Data = data
		} else {
			b.Path = t.Local[f.Path]
		}
		blobs = append(blobs, b)
	}
	return argv, env, files, blobs
}

// uploads makes each blob go to the service at most once per build,
// however many actions need it at once (the toolchain's files are needed
// by every compile): an action uploads the blobs nobody has claimed, and
// waits for those another action is uploading; a blob whose upload failed
// is claimed again by the next action that needs it.
type uploads struct {
	mu sync.Mutex
	m  map[digest.Digest]*upload
}

// An upload is one blob's upload by one action: done is closed when it
// ended, and ok then says whether it succeeded.
type upload struct {
	done chan struct{}
	ok   bool
}

// claim splits blobs into those the caller must upload (mine, claimed
// until release is called with the outcome) and the uploads of others to
// wait for (theirs, with their blobs).
func (u *uploads) claim(blobs []remote.Blob) (mine []remote.Blob, release func(ok bool), theirs map[*upload][]remote.Blob) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[digest.Digest]*upload{}
	}
	own := &upload{done: make(chan struct{})}
	theirs = map[*upload][]remote.Blob{}
	for _, b := range blobs {
		switch up := u.m[b.Digest]; {
		case up == own:
			// listed twice
		case up == nil || (isClosed(up.done) && !up.ok):
			u.m[b.Digest] = own
			mine = append(mine, b)
		case isClosed(up.done):
			// uploaded
		default:
			theirs[up] = append(theirs[up], b)
		}
	}
	return mine, func(ok bool) { own.ok = ok; close(own.done) }, theirs
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// upload puts blobs in the CAS, each at most once per build (see uploads).
func (r *Runner) upload(ctx context.Context, blobs []remote.Blob) error {
	for range 2 {
		mine, release, theirs := r.uploads.claim(blobs)
		_, err := r.opts.Client.Upload(ctx, mine)
		release(err == nil)
		if err != nil {
			return err
		}
		var again []remote.Blob
		for up, bs := range theirs {
			select {
			case <-up.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !up.ok {
				again = append(again, bs...)
			}
		}
		if len(again) == 0 {
			return nil
		}
		blobs = again // their upload failed: try them here, once
	}
	return fmt.Errorf("uploading %d blobs failed in another action", len(blobs))
}
