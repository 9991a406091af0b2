package pipe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bld/exec/digest"
	"bld/exec/reapi"
	"bld/exec/remote"
)

// fake is a remote.Service whose answers the tests choose.
type fake struct {
	results  map[digest.Digest]*reapi.ActionResult
	updated  map[digest.Digest]*reapi.ActionResult
	output   []byte        // what WriteOutput writes
	inline   remote.Inline // what the last GetActionResult or Execute was given
	uploaded atomic.Int64
	// sawCancel is set when a blocking Execute saw its ctx end.
	sawCancel atomic.Bool
	closed    atomic.Bool
	// unstick releases a stuck Execute, which ignores its ctx.
	unstick chan struct{}
}

var (
	actTimeout = digest.OfBytes([]byte("times out"))
	actMissing = digest.OfBytes([]byte("lacks inputs"))
	actBlocks  = digest.OfBytes([]byte("blocks"))
	actRefused = digest.OfBytes([]byte("connection refused"))
	actOK      = digest.OfBytes([]byte("runs"))
	actStuck   = digest.OfBytes([]byte("ignores its ctx"))
	blobA      = digest.OfBytes([]byte("a"))
)

func (f *fake) Target() string             { return "grpc://fake:1" }
func (f *fake) CanExecute() bool           { return true }
func (f *fake) CanUpdateActionCache() bool { return false }
func (f *fake) MarkFailed() bool           { return false }
func (f *fake) Failed() bool               { return false }
func (f *fake) Close() error               { f.closed.Store(true); return nil }
func (f *fake) Stats() remote.Stats        { return remote.Stats{RPCs: 7, BytesUploaded: f.uploaded.Load()} }

func (f *fake) GetActionResult(ctx context.Context, action digest.Digest, inline remote.Inline) (*reapi.ActionResult, error) {
	f.inline = inline
	if r := f.results[action]; r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("remote grpc://fake:1: GetActionResult %s: %w", action.Short(), remote.ErrNotFound)
}

func (f *fake) UpdateActionResult(ctx context.Context, action digest.Digest, r *reapi.ActionResult, blobs []remote.Blob) error {
	f.updated[action] = r
	for _, b := range blobs {
		f.uploaded.Add(b.Digest.Size)
	}
	return nil
}

func (f *fake) WriteOutput(ctx context.Context, r *reapi.ActionResult, w io.Writer) error {
	for b := f.output; len(b) > 0; {
		n := min(len(b), 100_000) // writes that straddle the chunks
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (f *fake) FindMissing(ctx context.Context, ds []digest.Digest) ([]digest.Digest, error) {
	var missing []digest.Digest
	for _, d := range ds {
		if d != blobA {
			missing = append(missing, d)
		}
	}
	return missing, nil
}

func (f *fake) Upload(ctx context.Context, blobs []remote.Blob) (int64, error) {
	var n int64
	for _, b := range blobs {
		data := b.Data
		if data == nil {
			var err error
			if data, err = os.ReadFile(b.Path); err != nil {
				return n, err
			}
		}
		if digest.OfBytes(data) != b.Digest {
			return n, fmt.Errorf("blob %s: %w", b.Digest.Short(), remote.ErrCorrupt)
		}
		n += int64(len(data))
	}
	f.uploaded.Add(n)
	return n, nil
}

func (f *fake) ReadBlob(ctx context.Context, d digest.Digest) ([]byte, error) {
	if d == blobA {
		return []byte("a"), nil
	}
	return nil, fmt.Errorf("blob %s: %w", d.Short(), remote.ErrNotFound)
}

func (f *fake) DownloadFile(ctx context.Context, d digest.Digest, path string, perm os.FileMode) error {
	if d != blobA {
		return fmt.Errorf("blob %s: %w", d.Short(), remote.ErrNotFound)
	}
	return os.WriteFile(path, []byte("a"), perm)
}

func (f *fake) ExecuteNotify(ctx context.Context, action digest.Digest, skip bool, inline remote.Inline, started func()) (*reapi.ExecuteResponse, error) {
	f.inline = inline
	if started != nil {
		started()
	}
	switch action {
	case actTimeout:
		resp := &reapi.ExecuteResponse{Result: &reapi.ActionResult{ExitCode: -1, StdoutRaw: []byte("partial")}, Status: reapi.Status{Code: 4, Message: "took too long"}}
		return resp, &remote.ActionError{Action: action, Code: remote.CodeDeadlineExceeded, Message: "took too long", Response: resp}
	case actMissing:
		return nil, &remote.MissingBlobsError{Digests: []digest.Digest{blobA}, Message: "evicted"}
	case actRefused:
		return nil, fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED)
	case actStuck:
		<-f.unstick
		return nil, errors.New("released")
	case actBlocks:
		<-ctx.Done()
		f.sawCancel.Store(true)
		return nil, ctx.Err()
	}
	return &reapi.ExecuteResponse{Result: &reapi.ActionResult{ExitCode: 3, StdoutRaw: []byte("out")}, CachedResult: skip}, nil
}

// connect serves f through a pair of pipes and returns the client,
// closed at the end of the test; Serve's end is reported on the channel.
func connect(t *testing.T, f *fake) (*Client, <-chan error) {
	t.Helper()
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	served := make(chan error, 1)
	go func() {
		err := Serve(context.Background(), toServer, fromServer, func(ctx context.Context, cfg remote.Config) (remote.Service, error) {
			if cfg.Target != "grpc://fake:1" {
				return nil, fmt.Errorf("dial %s: %w", cfg.Target, remote.ErrUnavailable)
			}
			return f, nil
		}, nil)
		fromServer.Close()
		served <- err
	}()
	c, err := Connect(context.Background(), fromClient, toClient, remote.Config{Target: "grpc://fake:1", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, served
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	want := &reapi.ActionResult{
		OutputFiles:  []reapi.OutputFile{{Path: "out/a b;c", Digest: blobA, IsExecutable: true, Contents: []byte("a")}},
		ExitCode:     0,
		StdoutRaw:    []byte("hello\n"),
		StdoutDigest: digest.OfBytes([]byte("hello\n")),
	}
	f := &fake{results: map[digest.Digest]*reapi.ActionResult{actOK: want}, updated: map[digest.Digest]*reapi.ActionResult{}, output: bytes.Repeat([]byte("0123456789"), 70_000)}
	c, _ := connect(t, f)
	if c.Target() != "grpc://fake:1" || !c.CanExecute() || c.CanUpdateActionCache() {
		t.Errorf("capabilities: %q %v %v", c.Target(), c.CanExecute(), c.CanUpdateActionCache())
	}

	inline := remote.Inline{Output: true, Files: []string{"out", "b c"}, UpTo: 77}
	got, err := c.GetActionResult(ctx, actOK, inline)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetActionResult (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(inline, f.inline); diff != "" {
		t.Errorf("GetActionResult's Inline on the other side (-sent +got):\n%s", diff)
	}
	if err := c.UpdateActionResult(ctx, actMissing, want, []remote.Blob{{Digest: digest.OfBytes([]byte("hello\n")), Data: []byte("hello\n")}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, f.updated[actMissing]); diff != "" {
		t.Errorf("UpdateActionResult (-want +got):\n%s", diff)
	}

	// An output in the CAS comes through the other side, in chunks; an
	// inlined one is written here.
	var out bytes.Buffer
	inCAS := &reapi.ActionResult{StdoutDigest: digest.OfBytes(f.output)}
	if err := c.WriteOutput(ctx, inCAS, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), f.output) {
		t.Errorf("WriteOutput: %d bytes, want %d", out.Len(), len(f.output))
	}
	out.Reset()
	if err := c.WriteOutput(ctx, &reapi.ActionResult{StdoutRaw: []byte("out\n"), StderrRaw: []byte("err\n")}, &out); err != nil || out.String() != "out\nerr\n" {
		t.Errorf("WriteOutput of inlined output: %q, %v", out.String(), err)
	}

	other := digest.OfBytes([]byte("b"))
	missing, err := c.FindMissing(ctx, []digest.Digest{blobA, other})
	if err != nil || len(missing) != 1 || missing[0] != other {
		t.Errorf("FindMissing = %v, %v", missing, err)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "blob b")
	os.WriteFile(file, []byte("from a file"), 0o644)
	sent, err := c.Upload(ctx, []remote.Blob{{Digest: blobA, Data: []byte("a")}, {Digest: digest.OfBytes([]byte("from a file")), Path: file}})
	if err != nil || sent != 12 {
		t.Errorf("Upload = %d, %v", sent, err)
	}

	if b, err := c.ReadBlob(ctx, blobA); err != nil || string(b) != "a" {
		t.Errorf("ReadBlob = %q, %v", b, err)
	}
	dst := filepath.Join(dir, "down")
	if err := c.DownloadFile(ctx, blobA, dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dst); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("DownloadFile: %v %v", st, err)
	}

	var started int
	resp, err := c.ExecuteNotify(ctx, actOK, true, remote.Inline{Output: true, UpTo: 5}, func() { started++ })
	if err != nil || started != 1 || resp.Result.ExitCode != 3 || !resp.CachedResult || string(resp.Result.StdoutRaw) != "out" {
		t.Errorf("ExecuteNotify = %+v, %v (started %d times)", resp, err, started)
	}
	if want := (remote.Inline{Output: true, UpTo: 5}); !cmp.Equal(want, f.inline) {
		t.Errorf("ExecuteNotify's Inline on the other side: %+v, want %+v", f.inline, want)
	}
	if st := c.Stats(); st.RPCs != 7 || st.BytesUploaded != 12+6 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestErrorsKeepTheirKind: what classifies an error on bld-remote's side
// classifies it on bld's.
func TestErrorsKeepTheirKind(t *testing.T) {
	ctx := context.Background()
	f := &fake{}
	c, _ := connect(t, f)

	_, err := c.GetActionResult(ctx, actOK, remote.Inline{})
	if !errors.Is(err, remote.ErrNotFound) || remote.IsUnavailable(err) || !strings.Contains(err.Error(), "GetActionResult") {
		t.Errorf("a miss: %v", err)
	}

	resp, err := c.ExecuteNotify(ctx, actTimeout, false, remote.Inline{}, nil)
	var ae *remote.ActionError
	if !errors.As(err, &ae) || ae.Code != remote.CodeDeadlineExceeded || ae.Response == nil || string(ae.Response.Result.StdoutRaw) != "partial" || remote.IsUnavailable(err) {
		t.Errorf("a timeout: %v (%+v)", err, ae)
	}
	if resp == nil || resp.Status.Code != 4 {
		t.Errorf("a timeout's response: %+v", resp)
	}

	_, err = c.ExecuteNotify(ctx, actMissing, false, remote.Inline{}, nil)
	var missing *remote.MissingBlobsError
	if !errors.As(err, &missing) || len(missing.Digests) != 1 || missing.Digests[0] != blobA || missing.Message != "evicted" {
		t.Errorf("missing inputs: %v", err)
	}

	// ECONNREFUSED does not cross as such, but what it means does.
	_, err = c.ExecuteNotify(ctx, actRefused, false, remote.Inline{}, nil)
	if !remote.IsUnavailable(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("a refused connection: %v", err)
	}
}

// TestCancel: a cancelled call returns the caller's error, and only after
// the other side has stopped working on it.
func TestCancel(t *testing.T) {
	f := &fake{}
	c, _ := connect(t, f)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("the user pressed Ctrl-C")
	_, err := c.ExecuteNotify(ctx, actBlocks, false, remote.Inline{}, func() { cancel(cause) })
	if !errors.Is(err, cause) {
		t.Errorf("err = %v, want the cause", err)
	}
	if !f.sawCancel.Load() {
		t.Error("the call returned before the service saw its cancellation")
	}
	// The client still works.
	if _, err := c.ReadBlob(context.Background(), blobA); err != nil {
		t.Error(err)
	}
}

// TestOtherVersionRefused: a helper of another protocol version (an older
// bld-remote left beside a newer bld, which says nothing of its version)
// is refused at dial, as unavailability: bld warns and builds here rather
// than have it misread requests.
func TestOtherVersionRefused(t *testing.T) {
	for _, version := range []int{0, protocolVersion + 1} {
		toServer, fromClient := io.Pipe()
		toClient, fromServer := io.Pipe()
		go func() {
			var req request
			readFrame(toServer, &req) // dial
			newFrameWriter(fromServer).send(response{ID: req.ID, Final: true, Caps: &capabilities{Protocol: version, Target: "grpc://x:1", CanExecute: true}})
			io.Copy(io.Discard, toServer)
			fromServer.Close()
		}()
		_, err := Connect(context.Background(), fromClient, toClient, remote.Config{Target: "grpc://x:1"})
		if err == nil || !remote.IsUnavailable(err) || !strings.Contains(err.Error(), fmt.Sprintf("version %d of bld's protocol", version)) {
			t.Errorf("a helper of version %d: %v, want it refused as unavailable", version, err)
		}
	}
}

// TestOtherSideGone: when the serving side ends, calls under way and
// later ones fail as unavailability (bld then builds here), and Close
// returns.
func TestOtherSideGone(t *testing.T) {
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	go func() {
		var req request
		readFrame(toServer, &req) // dial
		newFrameWriter(fromServer).send(response{ID: req.ID, Final: true, Caps: &capabilities{Protocol: protocolVersion, Target: "grpc://x:1"}})
		readFrame(toServer, &req) // the next call: then the server dies
		fromServer.Close()
		io.Copy(io.Discard, toServer)
	}()
	c, err := Connect(context.Background(), fromClient, toClient, remote.Config{Target: "grpc://x:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 2; i++ {
		if _, err := c.ReadBlob(context.Background(), blobA); !remote.IsUnavailable(err) {
			t.Errorf("call %d: %v, want unavailability", i, err)
		}
	}
}

// TestStartFails: a program that is not bld-remote, or exits, is named
// with what it said.
func TestStartFails(t *testing.T) {
	_, err := Start(context.Background(), "/bin/sh", []string{"-c", "echo cannot work here >&2; exit 3"}, remote.Config{Target: "grpc://x:1"})
	if err == nil || !remote.IsUnavailable(err) || !strings.Contains(err.Error(), "cannot work here") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("err = %v", err)
	}
	_, err = Start(context.Background(), filepath.Join(t.TempDir(), "absent"), nil, remote.Config{Target: "grpc://x:1"})
	if err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("err = %v", err)
	}
}

// TestServeEndsWithInput: Serve closes the service and returns when its
// input ends.
func TestServeEndsWithInput(t *testing.T) {
	f := &fake{}
	c, served := connect(t, f)
	c.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not end")
	}
	if !f.closed.Load() {
		t.Error("the service was not closed")
	}
}

// TestStuckHelperBounded: a helper that ignores a cancellation costs the
// caller cancelGrace, not forever, and its late answer blocks nothing.
func TestStuckHelperBounded(t *testing.T) {
	f := &fake{unstick: make(chan struct{})}
	c, _ := connect(t, f)
	c.grace = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	_, err := c.ExecuteNotify(ctx, actStuck, false, remote.Inline{}, func() { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the cancellation", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the call took %v", d)
	}
	close(f.unstick) // the late answer arrives for a call given up on
	if b, err := c.ReadBlob(context.Background(), blobA); err != nil || string(b) != "a" {
		t.Errorf("after a call given up on: %q, %v", b, err)
	}
}
