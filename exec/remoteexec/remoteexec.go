// Package remoteexec runs the commands of graph actions on a remote
// executor through the Remote Execution API (package exec/remote is the
// client): it is the executor.RemoteRunner of a build with
// --remote_executor.
//
// # What a remote action is
//
// An action's command becomes a REAPI Command: its argv, its whole
// environment (PATH included: the worker resolves argv[0] in it), its
// outputs as output_paths (and output_files, for servers before v2.1),
// and its ExecProperties as the platform; the input root holds every file
// the action may read, Inputs and Discoverable (a compile's candidate
// headers: the worker cannot report back what it read before it ran), at
// their workspace-relative paths, as the local sandbox shows them. The
// Action adds the action's timeout, and do_not_cache for actions whose
// results must not be kept. Its digest is not the action's cache key (the
// key leaves PATH out and, for an action with a depfile, covers only what
// it read): the result is stored under the key as for a local run, by the
// cache, once the outputs are in place.
//
// # Failures
//
// An action that fails remotely (a non-zero exit, a missing output) fails
// as it would here, with its output. A service that fails (unreachable,
// broken mid-build, answering nonsense) is not the action's fault: the
// first such failure is reported once, remote execution (and the remote
// cache, if it is the same service) is off for the rest of the build, and
// every action runs here (executor.RemoteResult's
// Fallback). A platform that no worker matches is the user's to fix: the
// action fails with the server's words.
package remoteexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"bld/exec/digest"
	"bld/exec/executor"
	"bld/exec/graph"
	"bld/exec/reapi"
	"bld/exec/remote"
	"bld/exec/store"
	"bld/exec/toolchain/ship"
)

// Inputs gives the content of what an action may read.
type Inputs interface {
	// InputFiles returns every file a may read, Inputs and Discoverable,
	// directories expanded to the files below them: workspace-relative,
	// sorted by path, with content digests and executable bits.
	InputFiles(ctx context.Context, a *graph.Action) ([]reapi.InputFile, error)
}

// Outputs decides which outputs of a remote run stay in the remote
// cache (--remote_download_minimal).
type Outputs interface {
	// Keep is told that a's output out has digest d in the remote CAS;
	// true means it stays there and is not downloaded.
	Keep(a *graph.Action, out string, d digest.Digest, executable bool) (bool, error)
}

// Options configure a Runner.
type Options struct {
	// Client is the connection to the remote executor; it must be able to
	// execute (CanExecute).
	Client remote.Service
	// Root is the absolute workspace root: input files are read and
	// outputs written under it.
	Root   string
	Inputs Inputs
	// Outputs, if not nil, may keep outputs remote instead of having
	// them downloaded.
	Outputs Outputs
	// Warn tells the user what does not fail the build: the service
	// failed and actions run here from now on.
	Warn func(msg string)
	// Endpoint names the service in messages (the --remote_executor
	// value).
	Endpoint string
	// Ship sends gcc compiles with the toolchain that runs them here
	// (ship.go), remembered in ShipMemo across builds ("" for none).
	Ship     bool
	ShipMemo string
}

// A Runner runs actions remotely. It is safe for concurrent use.
type Runner struct {
	opts        Options
	ran, cached atomic.Int64

	shipper  *shipper // nil without Options.Ship
	shipWarn sync.Once
	uploads  uploads
}

// New returns a Runner.
func New(opts Options) *Runner {
	r := &Runner{opts: opts}
	if opts.Ship {
		r.shipper = newShipper(opts.Root, opts.ShipMemo)
	}
	return r
}

// Accepts reports whether a runs remotely: a command, not marked
// no-remote-exec, not run outside the sandbox (such actions read what
// they do not declare, which a worker does not have), and not a jobserver
// client (its inner jobs belong to this machine's token pool) — as long as
// the service has not failed in this build.
//
// With Options.Ship, a gcc command runs remotely only if its toolchain can
// be shipped with it (ship.go).
func (r *Runner) Accepts(a *graph.Action) bool {
	if r.opts.Client.Failed() || len(a.Argv) == 0 || a.NoRemoteExec || a.NoSandbox || a.Jobserver {
		return false
	}
	if r.shipper != nil {
		if driver, shippable := ships(a); driver && !shippable {
			return false
		}
	}
	return true
}

// Counts returns how many actions ran remotely, and how many of them the
// service answered from its cache.
func (r *Runner) Counts() (ran, cached int64) { return r.ran.Load(), r.cached.Load() }

// Run runs a remotely and puts its outputs in place.
func (r *Runner) Run(ctx context.Context, a *graph.Action, output io.Writer, progress executor.RemoteProgress) executor.RemoteResult {
	res, err := r.run(ctx, a, output, progress)
	if err == nil {
		return res
	}
	var af *actionFailure
	var here *runHere
	switch {
	case errors.As(err, &here):
		r.shipWarn.Do(func() {
			if r.opts.Warn != nil {
				r.opts.Warn(fmt.Sprintf("%v; compiles with this toolchain run on this machine", here.err))
			}
		})
		return executor.RemoteResult{Fallback: true, ExitCode: -1}
	case errors.As(err, &af):
		return executor.RemoteResult{ExitCode: res.ExitCode, Err: af.err}
	case ctx.Err() != nil:
		return executor.RemoteResult{ExitCode: -1, Err: errors.New("interrupted: its remote execution was abandoned")}
	}
	// The first failure turns remote execution off (and the remote
	// cache, when it is the same service: the client is shared).
	if r.opts.Client.MarkFailed() && r.opts.Warn != nil {
		r.opts.Warn(fmt.Sprintf("remote execution on %s failed (%v); running actions on this machine from now on", r.opts.Endpoint, err))
	}
	return executor.RemoteResult{Fallback: true, ExitCode: -1}
}

// inlineOutputs is the size up to which a remote action's outputs and
// command output come back inlined in its result rather than downloaded
// one call each.
const inlineOutputs = 64 << 10

// runHere is why an action runs here although the service is fine.
type runHere struct{ err error }

func (h *runHere) Error() string { return h.err.Error() }

// actionFailure is an error of the action itself, not of the service.
type actionFailure struct{ err error }

func (f *actionFailure) Error() string { return f.err.Error() }

func (r *Runner) run(ctx context.Context, a *graph.Action, output io.Writer, progress executor.RemoteProgress) (executor.RemoteResult, error) {
	res := executor.RemoteResult{ExitCode: -1}
	files, err := r.opts.Inputs.InputFiles(ctx, a)
	if err != nil {
		return res, &actionFailure{fmt.Errorf("reading its inputs: %w", err)}
	}
	var blobs []remote.Blob
	for _, f := range files {
		blobs = append(blobs, remote.Blob{Digest: f.Digest, Path: filepath.Join(r.opts.Root, filepath.FromSlash(f.Path))})
	}
	argv, env := a.Argv, a.Env
	var tc *ship.Toolchain
	if r.shipper != nil {
		if driver, _ := ships(a); driver {
			if tc, err = r.shipper.toolchainOf(ctx, a); err != nil {
				return res, &runHere{err} // the service is fine; this machine cannot ship
			}
			argv, env, files, blobs = shipped(tc, a, files, blobs)
		}
	}
	platform := reapi.PlatformOf(a.ExecProperties())
	cmd := reapi.NewCommand(argv, env, a.Outputs)
	cmd.Platform = platform
	cmdDigest, cmdBytes, err := reapi.DigestOf(cmd)
	if err != nil {
		return res, &actionFailure{err}
	}
	rootDigest, err := reapi.MerkleRoot(files, func(d digest.Digest, b []byte) {
		blobs = append(blobs, remote.Blob{Digest: d, Data: b})
	})
	if err != nil {
		return res, &actionFailure{err}
	}
	action := &reapi.Action{
		CommandDigest:   cmdDigest,
		InputRootDigest: rootDigest,
		DoNotCache:      a.NoCache || a.NoRemoteCache,
		Platform:        platform,
	}
	if a.Timeout() > 0 {
		action.Timeout = a.Timeout()
	}
	actionDigest, actionBytes, err := reapi.DigestOf(action)
	if err != nil {
		return res, &actionFailure{err}
	}
	blobs = append(blobs, remote.Blob{Digest: cmdDigest, Data: cmdBytes}, remote.Blob{Digest: actionDigest, Data: actionBytes})

	c := r.opts.Client
	if err := r.upload(ctx, blobs); err != nil {
		return res, fmt.Errorf("uploading the inputs of %s: %w", a.Owner, err)
	}
	var started func()
	if progress != nil {
		started = progress.Started
	}
	// What it printed and its small outputs come with the result (one
	// call, not one more per output), but for outputs that may stay
	// remote (Options.Outputs decides on each).
	inline := remote.Inline{Output: true, UpTo: inlineOutputs}
	if r.opts.Outputs == nil {
		inline.Files = a.Outputs
	}
	resp, err := c.ExecuteNotify(ctx, actionDigest, a.NoCache, inline, started)
	var missing *remote.MissingBlobsError
	if errors.As(err, &missing) {
		// The service lost blobs between the upload and the execution
		// (an eviction): upload them again, once.
		if _, err := c.Upload(ctx, blobsNamed(blobs, missing.Digests)); err != nil {
			return res, fmt.Errorf("uploading the inputs of %s again: %w", a.Owner, err)
		}
		resp, err = c.ExecuteNotify(ctx, actionDigest, a.NoCache, inline, started)
	}
	if progress != nil && !progress.Answered() {
		// Taken back to run here: nothing is written.
		return res, context.Cause(ctx)
	}
	var ae *remote.ActionError
	switch {
	case errors.Is(err, remote.ErrNoWorker):
		return res, &actionFailure{fmt.Errorf("the remote executor has no worker for its platform %v (exec_properties): %w", a.ExecProperties(), err)}
	case errors.As(err, &ae) && !remote.IsUnavailable(err):
		// The service ran it, or tried to, and says why it failed:
		// a timeout, a command the worker cannot start.
		if ae.Response != nil {
			r.opts.Client.WriteOutput(ctx, ae.Response.Result, output) // what it printed, if anything
		}
		if ae.TimedOut() {
			return res, &actionFailure{fmt.Errorf("timed out after %v (on the remote executor)", a.Timeout())}
		}
		return res, &actionFailure{fmt.Errorf("the remote executor could not run it: %s: %s", ae.Code, ae.Message)}
	case err != nil:
		return res, fmt.Errorf("executing %s: %w", a.Owner, err)
	}
	result := resp.Result
	if result == nil {
		return res, fmt.Errorf("executing %s: the service answered without a result", a.Owner)
	}
	res.Cached = resp.CachedResult
	res.ExitCode = int(result.ExitCode)
	if err := r.opts.Client.WriteOutput(ctx, result, output); err != nil {
		return res, err
	}
	r.ran.Add(1)
	if res.Cached {
		r.cached.Add(1)
	}
	if res.ExitCode != 0 {
		return res, &actionFailure{fmt.Errorf("exited with status %d (on the remote executor)", res.ExitCode)}
	}
	if err := r.download(ctx, a, result); err != nil {
		return res, err
	}
	if tc != nil && a.Depfile() != "" {
		if err := rewriteDepfile(filepath.Join(r.opts.Root, filepath.FromSlash(a.Depfile())), tc); err != nil {
			return res, &actionFailure{err}
		}
	}
	return res, nil
}

// download puts the outputs of result in place: each of a's outputs must
// be among result's files.
func (r *Runner) download(ctx context.Context, a *graph.Action, result *reapi.ActionResult) error {
	byPath := make(map[string]*reapi.OutputFile, len(result.OutputFiles))
	for i := range result.OutputFiles {
		byPath[result.OutputFiles[i].Path] = &result.OutputFiles[i]
	}
	for _, out := range a.Outputs {
		f := byPath[out]
		if f == nil {
			return &actionFailure{fmt.Errorf("the command did not create its output %s (on the remote executor)", out)}
		}
		perm := fs.FileMode(0o644)
		if f.IsExecutable {
			perm = 0o755
		}
		abs := filepath.Join(r.opts.Root, filepath.FromSlash(out))
		d := f.Digest
		if r.opts.Outputs != nil && len(f.Contents) == 0 && digest.ValidHash(d.Hash) {
			kept, err := r.opts.Outputs.Keep(a, out, d, f.IsExecutable)
			if err != nil {
				return &actionFailure{err}
			}
			if kept {
				continue
			}
		}
		if len(f.Contents) > 0 || d.Size == 0 {
			if digest.OfBytes(f.Contents) != d {
				return fmt.Errorf("the service's inline content of %s does not match its digest", out)
			}
			if err := store.WriteFileAtomic(abs, f.Contents, perm); err != nil {
				return &actionFailure{err}
			}
			continue
		}
		if err := r.opts.Client.DownloadFile(ctx, d, abs, perm); err != nil {
			return fmt.Errorf("downloading %s: %w", out, err)
		}
	}
	return nil
}

// rewriteDepfile maps the shipped toolchain's paths in the depfile at abs
// back to this machine's.
func rewriteDepfile(abs string, tc *ship.Toolchain) error {
	data, err := os.ReadFile(abs)
	if err != nil {
		return fmt.Errorf("reading its depfile: %w", err)
	}
	return store.WriteFileAtomic(abs, tc.RewriteDepfile(data), 0o644)
}

// blobsNamed returns the blobs of all whose digests are in ds.
func blobsNamed(all []remote.Blob, ds []digest.Digest) []remote.Blob {
	want := make(map[digest.Digest]bool, len(ds))
	for _, d := range ds {
		want[d] = true
	}
	var out []remote.Blob
	for _, b := range all {
		if want[b.Digest] {
			out = append(out, b)
		}
	}
	return out
}
