package grpcclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"bld/exec/digest"
	"bld/exec/reapi"
	"bld/exec/remote"
	"bld/exec/remote/remotetest"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// start starts a remotetest server, stopped at the end of the test.
func start(t *testing.T, opts remotetest.Options) *remotetest.Server {
	t.Helper()
	s, err := remotetest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// dial connects to s with fast retries, closed at the end of the test.
func dial(t *testing.T, s *remotetest.Server, cfg remote.Config) *Client {
	t.Helper()
	if cfg.Target == "" {
		cfg.Target = "grpc://" + s.Addr()
	}
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.retry = retryPolicy{tries: 5, base: 5 * time.Millisecond, max: 50 * time.Millisecond}
	t.Cleanup(func() { c.Close() })
	return c
}

func blobOf(data []byte) remote.Blob { return remote.Blob{Digest: digest.OfBytes(data), Data: data} }

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDialCapabilities(t *testing.T) {
	s := start(t, remotetest.Options{Exec: true, MaxBatchTotalSizeBytes: 1 << 20})
	c := dial(t, s, remote.Config{Target: s.Addr(), InstanceName: "main"})
	if !c.CanExecute() || !c.CanUpdateActionCache() || c.MaxBatchBytes() != 1<<20 {
		t.Errorf("exec %v update %v max batch %d", c.CanExecute(), c.CanUpdateActionCache(), c.MaxBatchBytes())
	}
	if c.Target() != "grpc://"+s.Addr() {
		t.Errorf("target %q", c.Target())
	}

	s2 := start(t, remotetest.Options{LowAPIVersion: "2.0", HighAPIVersion: "2.0"})
	c2 := dial(t, s2, remote.Config{})
	if c2.CanExecute() || c2.MaxBatchBytes() != 4<<20 {
		t.Errorf("cache-only server: exec %v max batch %d", c2.CanExecute(), c2.MaxBatchBytes())
	}

	s3 := start(t, remotetest.Options{LowAPIVersion: "3.0", HighAPIVersion: "3.1"})
	_, err := Dial(context.Background(), remote.Config{Target: "grpc://" + s3.Addr()})
	if err == nil || !strings.Contains(err.Error(), "3.0..3.1") || !strings.Contains(err.Error(), s3.Addr()) {
		t.Errorf("REAPI 3 server: %v", err)
	}
}

// capsServer answers GetCapabilities only, with caps.
type capsServer struct {
	repb.UnimplementedCapabilitiesServer
	caps *repb.ServerCapabilities
}

func (s capsServer) GetCapabilities(context.Context, *repb.GetCapabilitiesRequest) (*repb.ServerCapabilities, error) {
	return s.caps, nil
}

func startCaps(t *testing.T, caps *repb.ServerCapabilities) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	repb.RegisterCapabilitiesServer(g, capsServer{caps: caps})
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

func TestDialRefusesWithoutSHA256(t *testing.T) {
	addr := startCaps(t, &repb.ServerCapabilities{CacheCapabilities: &repb.CacheCapabilities{
		DigestFunctions: []repb.DigestFunction_Value{repb.DigestFunction_BLAKE3},
	}})
	_, err := Dial(context.Background(), remote.Config{Target: addr, InstanceName: "x"})
	if err == nil || !strings.Contains(err.Error(), "SHA-256") || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "BLAKE3") {
		t.Errorf("err = %v", err)
	}
	// Nothing advertised about versions: 2.0, accepted.
	addr = startCaps(t, &repb.ServerCapabilities{CacheCapabilities: &repb.CacheCapabilities{
		DigestFunctions: []repb.DigestFunction_Value{repb.DigestFunction_SHA256},
	}})
	c, err := Dial(context.Background(), remote.Config{Target: addr})
	if err != nil {
		t.Fatalf("server advertising no version: %v", err)
	}
	c.Close()
}

func TestDialUnreachable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := lis.Addr().String()
	lis.Close()

	// A listener that accepts and never speaks.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	for _, addr := range []string{refused, silent.Addr().String()} {
		start := time.Now()
		_, err := Dial(context.Background(), remote.Config{Target: "grpc://" + addr, Timeout: time.Minute})
		el := time.Since(start)
		if err == nil || !IsUnavailable(err) || !strings.Contains(err.Error(), addr) {
			t.Errorf("%s: err = %v, IsUnavailable %v", addr, err, IsUnavailable(err))
		}
		if el > 7*time.Second {
			t.Errorf("%s: Dial took %v", addr, el)
		}
		t.Logf("%s after %v: %v", addr, el, err)
	}
}

func TestUploadBatchesAndRead(t *testing.T) {
	for _, limit := range []int64{2000, 0} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			s := start(t, remotetest.Options{MaxBatchTotalSizeBytes: limit})
			c := dial(t, s, remote.Config{InstanceName: "inst"})
			var blobs []remote.Blob
			var ds []digest.Digest
			n, size := 200, 300
			if limit == 0 {
				n, size = 40, 300<<10 // 12 MB in all: several 4 MiB batches
			}
			for i := range n {
				data := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, size/2)
				blobs = append(blobs, blobOf(data))
				ds = append(ds, blobs[i].Digest)
			}
			blobs = append(blobs, blobs[0], blobOf(nil)) // a duplicate and the empty blob
			sent, err := c.Upload(context.Background(), blobs)
			if err != nil {
				t.Fatal(err)
			}
			if sent != int64(n*size) {
				t.Errorf("sent %d, want %d", sent, n*size)
			}
			st := s.Stats()
			if st.BatchUpdateBlobs != int64(n) || st.ByteStreamWriteBlobs != 0 || st.RPCs["BatchUpdateBlobs"] < 3 {
				t.Errorf("server stats: %+v", st)
			}
			t.Logf("%d batches, largest %d bytes of request", st.RPCs["BatchUpdateBlobs"], st.MaxBatchRequestBytes)
			if _, ok := s.Blob("inst", digestToProto(ds[7])); !ok {
				t.Error("blob not in the instance's CAS")
			}
			// Again: nothing missing, nothing sent.
			if sent, err := c.Upload(context.Background(), blobs); err != nil || sent != 0 {
				t.Errorf("second upload sent %d, %v", sent, err)
			}
			got, err := c.ReadBlobs(context.Background(), append(ds, digest.Empty))
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range ds {
				if !bytes.Equal(got[d], blobs[i].Data) {
					t.Fatalf("blob %d read back wrong", i)
				}
			}
			if g, ok := got[digest.Empty]; !ok || len(g) != 0 {
				t.Error("empty blob not returned")
			}
			if st := s.Stats(); st.RPCs["BatchReadBlobs"] < 3 {
				t.Errorf("reads in %d batches", st.RPCs["BatchReadBlobs"])
			}
			cs := c.Stats()
			if cs.BlobsUploaded != int64(n) || cs.BytesUploaded != int64(n*size) || cs.BlobsDownloaded != int64(n) {
				t.Errorf("client stats %+v", cs)
			}
		})
	}
}

func TestBigBlobByteStream(t *testing.T) {
	s := start(t, remotetest.Options{MaxBatchTotalSizeBytes: 64 << 10, ReadChunkSize: 100 << 10})
	c := dial(t, s, remote.Config{InstanceName: "a/b"})
	big := make([]byte, 3<<20+12345)
	for i := range big {
		big[i] = byte(i * 7 / 13)
	}
	path := filepath.Join(t.TempDir(), "big")
	os.WriteFile(path, big, 0o644)
	d := digest.OfBytes(big)
	small := blobOf([]byte("small"))
	sent, err := c.Upload(context.Background(), []remote.Blob{{Digest: d, Path: path}, small})
	if err != nil {
		t.Fatal(err)
	}
	if sent != d.Size+small.Digest.Size {
		t.Errorf("sent %d", sent)
	}
	if st := s.Stats(); st.ByteStreamWriteBlobs != 1 || st.BatchUpdateBlobs != 1 {
		t.Errorf("stats %+v", st)
	}
	got, err := c.ReadBlob(context.Background(), d)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read back: %v", err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := c.DownloadFile(context.Background(), d, out, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, big) {
		t.Error("downloaded file differs")
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v", fi.Mode())
	}
	if err := c.DownloadFile(context.Background(), digest.Empty, out+".empty", 0o644); err != nil {
		t.Error(err)
	}
	// A big blob from Data too.
	big2 := append([]byte("x"), big...)
	if _, err := c.Upload(context.Background(), []remote.Blob{blobOf(big2)}); err != nil {
		t.Fatal(err)
	}
	if b, ok := s.Blob("a/b", digestToProto(digest.OfBytes(big2))); !ok || !bytes.Equal(b, big2) {
		t.Error("big Data blob not stored")
	}
}

func TestCorruptBlob(t *testing.T) {
	s := start(t, remotetest.Options{MaxBatchTotalSizeBytes: 64 << 10})
	c := dial(t, s, remote.Config{})
	small := blobOf([]byte("hello, corrupt world"))
	big := blobOf(bytes.Repeat([]byte("0123456789"), 20000))
	if _, err := c.Upload(context.Background(), []remote.Blob{small, big}); err != nil {
		t.Fatal(err)
	}
	s.CorruptBlob(digestToProto(small.Digest))
	s.CorruptBlob(digestToProto(big.Digest))
	for _, b := range []remote.Blob{small, big} {
		data, err := c.ReadBlob(context.Background(), b.Digest)
		if !errors.Is(err, remote.ErrCorrupt) || data != nil {
			t.Errorf("%d bytes: err = %v, %d bytes returned", b.Digest.Size, err, len(data))
		}
		if IsUnavailable(err) {
			t.Errorf("corruption counts as unavailable: %v", err)
		}
	}
	out := filepath.Join(t.TempDir(), "f")
	if err := c.DownloadFile(context.Background(), big.Digest, out, 0o644); !errors.Is(err, remote.ErrCorrupt) {
		t.Errorf("DownloadFile: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	// Not found.
	_, err := c.ReadBlob(context.Background(), digest.OfBytes([]byte("absent")))
	if !errors.Is(err, remote.ErrNotFound) {
		t.Errorf("absent blob: %v", err)
	}
}

func TestActionCache(t *testing.T) {
	s := start(t, remotetest.Options{})
	c := dial(t, s, remote.Config{InstanceName: "ac"})
	action := digest.OfBytes([]byte("an action"))
	_, err := c.GetActionResult(context.Background(), action, remote.Inline{})
	if !errors.Is(err, remote.ErrNotFound) || IsUnavailable(err) {
		t.Fatalf("miss: %v", err)
	}
	out := blobOf([]byte("output"))
	stdout := blobOf([]byte("said this"))
	r := &reapi.ActionResult{
		OutputFiles:  []reapi.OutputFile{{Path: "o", Digest: out.Digest}},
		StdoutDigest: stdout.Digest,
		ExitCode:     0,
	}
	if err := c.UpdateActionResult(context.Background(), action, r, []remote.Blob{out, stdout}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetActionResult(context.Background(), action, remote.Inline{Output: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.OutputFiles[0].Path != "o" || got.OutputFiles[0].Digest != out.Digest || len(got.OutputFiles[0].Contents) > 0 {
		t.Errorf("result %v", got)
	}
	if len(got.StdoutRaw) > 0 && string(got.StdoutRaw) != "said this" {
		t.Errorf("inline stdout %q", got.StdoutRaw)
	}
	// Inline: the server is asked to inline the output file (and it does,
	// whatever its size: no BatchReadBlobs).
	reads := s.Stats().RPCs["BatchReadBlobs"]
	got, err = c.GetActionResult(context.Background(), action, remote.Inline{Output: true, Files: []string{"o"}, UpTo: 1})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.OutputFiles[0].Contents) != "output" || s.Stats().RPCs["BatchReadBlobs"] != reads {
		t.Errorf("Inline: output file %q (want it inlined by the server), %d BatchReadBlobs", got.OutputFiles[0].Contents, s.Stats().RPCs["BatchReadBlobs"]-reads)
	}
	if st := c.Stats(); st.CacheHits != 2 || st.CacheMisses != 1 {
		t.Errorf("stats %+v", st)
	}
}

// action builds and uploads an action running sh -c script with an input
// file in.txt, and returns its digest and the blobs, uploaded unless
// skipUpload names the input.
func action(t *testing.T, c *Client, script string, platform *repb.Platform, timeout time.Duration, skipInput bool) (digest.Digest, remote.Blob) {
	t.Helper()
	input := blobOf([]byte("input\n"))
	cmd := &repb.Command{
		Arguments:            []string{"/bin/sh", "-c", script},
		EnvironmentVariables: []*repb.Command_EnvironmentVariable{{Name: "GREETING", Value: "hi"}, {Name: "PATH", Value: "/usr/bin:/bin"}},
		OutputPaths:          []string{"out/x.txt"},
		Platform:             platform,
	}
	root := &repb.Directory{Files: []*repb.FileNode{{Name: "in.txt", Digest: digestToProto(input.Digest)}}}
	cmdB, rootB := blobOf(marshal(t, cmd)), blobOf(marshal(t, root))
	act := &repb.Action{CommandDigest: digestToProto(cmdB.Digest), InputRootDigest: digestToProto(rootB.Digest), Platform: platform}
	if timeout > 0 {
		act.Timeout = durationpb.New(timeout)
	}
	actB := blobOf(marshal(t, act))
	up := []remote.Blob{cmdB, rootB, actB}
	if !skipInput {
		up = append(up, input)
	}
	if _, err := c.Upload(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	return actB.Digest, input
}

func TestExecute(t *testing.T) {
	s := start(t, remotetest.Options{Exec: true})
	c := dial(t, s, remote.Config{})
	act, _ := action(t, c, `echo "$GREETING" > out/x.txt; cat in.txt >> out/x.txt; echo to-stdout; echo to-stderr >&2; exit 3`, nil, 0, false)
	resp, err := c.Execute(context.Background(), act, false)
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Result
	if r.ExitCode != 3 || len(r.OutputFiles) != 1 || r.OutputFiles[0].Path != "out/x.txt" {
		t.Fatalf("result %v", r)
	}
	m, err := c.ReadBlobs(context.Background(), []digest.Digest{r.OutputFiles[0].Digest, r.StdoutDigest, r.StderrDigest})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m[r.OutputFiles[0].Digest]); got != "hi\ninput\n" {
		t.Errorf("output %q", got)
	}
	if got := string(m[r.StdoutDigest]); got != "to-stdout\n" {
		t.Errorf("stdout %q", got)
	}
	if got := string(m[r.StderrDigest]); got != "to-stderr\n" {
		t.Errorf("stderr %q", got)
	}
	if resp.CachedResult {
		t.Error("first run cached")
	}

	// A timeout is an ActionError with the response, and not unavailability.
	act2, _ := action(t, c, `sleep 5`, nil, 200*time.Millisecond, false)
	resp, err = c.Execute(context.Background(), act2, false)
	var ae *remote.ActionError
	if !errors.As(err, &ae) || ae.Code != remote.CodeDeadlineExceeded || !ae.TimedOut() || resp == nil || IsUnavailable(err) {
		t.Errorf("timeout: %v (%T), resp %v", err, err, resp)
	}
}

func TestExecuteDroppedStream(t *testing.T) {
	s := start(t, remotetest.Options{Exec: true, DropExecuteStreamAfter: 1, ExecuteUpdateInterval: 20 * time.Millisecond})
	c := dial(t, s, remote.Config{})
	act, _ := action(t, c, `sleep 0.3; echo done > out/x.txt`, nil, 0, false)
	resp, err := c.Execute(context.Background(), act, true)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Result.ExitCode != 0 || len(resp.Result.OutputFiles) != 1 {
		t.Errorf("result %v", resp.Result)
	}
	if st := c.Stats(); st.WaitExecutions == 0 {
		t.Errorf("no WaitExecution: %+v", st)
	}
	if st := s.Stats(); st.Executions != 1 || st.RPCs["WaitExecution"] == 0 {
		t.Errorf("server stats %+v", st)
	}

	// The server forgets operations: Execute again.
	s.SetForgetOperations(true)
	act2, _ := action(t, c, `sleep 0.2; echo again > out/x.txt`, nil, 0, false)
	resp, err = c.Execute(context.Background(), act2, false)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.RPCs["Execute"] < 3 {
		t.Errorf("Execute not called again: %+v", st.RPCs)
	}
}

func TestExecuteMissingBlobs(t *testing.T) {
	s := start(t, remotetest.Options{Exec: true})
	c := dial(t, s, remote.Config{})
	act, input := action(t, c, `cat in.txt > out/x.txt`, nil, 0, true)
	_, err := c.Execute(context.Background(), act, false)
	var mb *remote.MissingBlobsError
	if !errors.As(err, &mb) || len(mb.Digests) != 1 || mb.Digests[0] != input.Digest {
		t.Fatalf("err = %v (%T)", err, err)
	}
	if _, err := c.Upload(context.Background(), []remote.Blob{input}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(context.Background(), act, false); err != nil {
		t.Fatal(err)
	}
}

func TestExecutePlatformMismatch(t *testing.T) {
	for _, code := range []codes.Code{codes.FailedPrecondition, codes.Unavailable} {
		t.Run(code.String(), func(t *testing.T) { testExecutePlatformMismatch(t, code) })
	}
}

// testExecutePlatformMismatch: a platform no worker has fails at once,
// with the server's words, whether the server says so with
// FAILED_PRECONDITION or, as Buildbarn does, UNAVAILABLE.
func testExecutePlatformMismatch(t *testing.T, code codes.Code) {
	linux := &repb.Platform{Properties: []*repb.Platform_Property{{Name: "OSFamily", Value: "linux"}}}
	s := start(t, remotetest.Options{Exec: true, Platforms: []*repb.Platform{linux}, NoWorkerCode: code})
	c := dial(t, s, remote.Config{})
	win := &repb.Platform{Properties: []*repb.Platform_Property{{Name: "OSFamily", Value: "windows"}}}
	act, _ := action(t, c, `true`, win, 0, false)
	start := time.Now()
	_, err := c.Execute(context.Background(), act, false)
	if err == nil || IsUnavailable(err) || !errors.Is(err, remote.ErrNoWorker) || !strings.Contains(err.Error(), "windows") || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
	if s.Stats().RPCs["Execute"] != 1 {
		t.Errorf("Execute retried: %v", s.Stats().RPCs)
	}
	act, _ = action(t, c, `true`, linux, 0, false)
	if _, err := c.Execute(context.Background(), act, false); err != nil {
		t.Error(err)
	}
}

func TestHeaders(t *testing.T) {
	s := start(t, remotetest.Options{})
	helper, log := writeHelper(t, `{"headers": {"Authorization": ["Bearer from-helper"]}}`)
	c := dial(t, s, remote.Config{Target: s.Addr(), Headers: [][2]string{{"x-team", "compilers"}}, CredentialHelper: helper, ToolVersion: "0.1", InvocationID: "inv-1"})
	if b, _ := os.ReadFile(log); strings.TrimSpace(string(b)) != `{"uri":"grpc://`+s.Addr()+`"}` {
		t.Errorf("helper input %q", b)
	}
	if _, err := c.FindMissing(context.Background(), []digest.Digest{digest.OfBytes([]byte("x"))}); err != nil {
		t.Fatal(err)
	}
	if got := s.HeaderValues("x-team"); fmt.Sprint(got) != "[compilers]" {
		t.Errorf("x-team = %v", got)
	}
	if got := s.HeaderValues("authorization"); fmt.Sprint(got) != "[Bearer from-helper]" {
		t.Errorf("authorization = %v", got)
	}
	calls := s.Calls()
	if len(calls) < 2 {
		t.Fatalf("calls %v", calls)
	}
	for _, call := range calls {
		if md := call.RequestMetadata; md.GetToolDetails().GetToolName() != "bld" || md.GetToolDetails().GetToolVersion() != "0.1" || md.GetToolInvocationId() != "inv-1" {
			t.Errorf("%s: request metadata %v", call.Method, call.RequestMetadata)
		}
		if len(call.Header.Get("x-team")) != 1 {
			t.Errorf("%s: headers %v", call.Method, call.Header)
		}
	}
	if _, err := Dial(context.Background(), remote.Config{Target: s.Addr(), Headers: [][2]string{{"bad name", "x"}}}); err == nil {
		t.Error("bad header name accepted")
	}
}

func TestCancel(t *testing.T) {
	s := start(t, remotetest.Options{Exec: true})
	c := dial(t, s, remote.Config{})
	s.SetDelay(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.FindMissing(ctx, []digest.Digest{digest.OfBytes([]byte("x"))})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 3*time.Second || IsUnavailable(err) {
		t.Errorf("FindMissing: %v after %v", err, time.Since(start))
	}
	s.SetDelay(0)
	act, _ := action(t, c, `sleep 30`, nil, 0, false)
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	_, err = c.Execute(ctx, act, false)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 3*time.Second {
		t.Errorf("Execute: %v after %v", err, time.Since(start))
	}
}

// A slow server: each attempt times out, the tries are bounded, and the
// error says unavailable.
func TestTimeoutRetriesBounded(t *testing.T) {
	s := start(t, remotetest.Options{})
	c := dial(t, s, remote.Config{Timeout: 100 * time.Millisecond})
	s.SetDelay(time.Hour)
	start := time.Now()
	_, err := c.FindMissing(context.Background(), []digest.Digest{digest.OfBytes([]byte("x"))})
	if !IsUnavailable(err) || !errors.Is(err, remote.ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
	if n := s.Stats().RPCs["FindMissingBlobs"]; n != 5 {
		t.Errorf("%d tries", n)
	}
	// The server is gone: unavailable.
	s.SetDelay(0)
	s.Stop()
	_, err = c.ReadBlob(context.Background(), digest.OfBytes([]byte("x")))
	if !IsUnavailable(err) {
		t.Errorf("stopped server: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	s := start(t, remotetest.Options{MaxBatchTotalSizeBytes: 8 << 10})
	c := dial(t, s, remote.Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var blobs []remote.Blob
			var ds []digest.Digest
			for i := range 30 {
				b := blobOf([]byte(strings.Repeat(fmt.Sprintf("g%d i%d ", g%4, i), 40+i*10)))
				blobs = append(blobs, b)
				ds = append(ds, b.Digest)
			}
			if _, err := c.Upload(context.Background(), blobs); err != nil {
				errs <- err
				return
			}
			m, err := c.ReadBlobs(context.Background(), ds)
			if err != nil {
				errs <- err
				return
			}
			for _, b := range blobs {
				if !bytes.Equal(m[b.Digest], b.Data) {
					errs <- fmt.Errorf("blob %s differs", b.Digest.Short())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("client %+v", c.Stats())
}

func TestExecuteConcurrent(t *testing.T) {
	s := start(t, remotetest.Options{Exec: true, ExecuteUpdateInterval: 10 * time.Millisecond})
	c := dial(t, s, remote.Config{InstanceName: "conc"})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		act, _ := action(t, c, fmt.Sprintf(`sleep 0.1; echo %d > out/x.txt`, i), nil, 0, false)
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Execute(context.Background(), act, false)
			if err != nil {
				errs <- err
				return
			}
			out, err := c.ReadBlob(context.Background(), resp.Result.OutputFiles[0].Digest)
			if err != nil || string(out) != fmt.Sprintf("%d\n", i) {
				errs <- fmt.Errorf("action %d: output %q, %v", i, out, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := c.Stats(); st.Executions != 8 {
		t.Errorf("stats %+v", st)
	}
}

// Blobs around the hidden 4 MiB limit of a server that advertises none:
// each goes in a batch when it fits with its overhead, by ByteStream when not.
func TestUploadAtHiddenLimit(t *testing.T) {
	s := start(t, remotetest.Options{})
	c := dial(t, s, remote.Config{})
	var blobs []remote.Blob
	var ds []digest.Digest
	for i, n := range []int{4<<20 - 32<<10, 4<<20 - 16<<10 - 200, 4<<20 - 100, 4 << 20, 4<<20 + 1} {
		data := bytes.Repeat([]byte{byte(i + 1)}, n)
		blobs = append(blobs, blobOf(data))
		ds = append(ds, blobs[i].Digest)
	}
	if _, err := c.Upload(context.Background(), blobs); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.BatchUpdateBlobs+st.ByteStreamWriteBlobs != 5 || st.BatchUpdateBlobs < 1 {
		t.Errorf("stats %+v", st)
	}
	m, err := c.ReadBlobs(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range blobs {
		if !bytes.Equal(m[b.Digest], b.Data) {
			t.Errorf("blob %d differs", i)
		}
	}
}

func TestExecuteUnavailable(t *testing.T) {
	s := start(t, remotetest.Options{Exec: true})
	c := dial(t, s, remote.Config{})
	act, _ := action(t, c, `sleep 0.2; echo x > out/x.txt`, nil, 0, false)
	for _, code := range []codes.Code{codes.Unavailable, codes.ResourceExhausted} {
		s.SetRefuseExecution(code)
		s.ResetStats()
		_, err := c.Execute(context.Background(), act, false)
		if !IsUnavailable(err) || !errors.Is(err, remote.ErrUnavailable) {
			t.Errorf("%v: err = %v", code, err)
		}
		if n := s.Stats().RPCs["Execute"]; n != 5 {
			t.Errorf("%v: %d tries", code, n)
		}
	}
	// Refused for good: no retry, not unavailable.
	s.SetRefuseExecution(codes.PermissionDenied)
	s.ResetStats()
	_, err := c.Execute(context.Background(), act, false)
	if err == nil || IsUnavailable(err) || s.Stats().RPCs["Execute"] != 1 {
		t.Errorf("permission denied: %v, %d tries", err, s.Stats().RPCs["Execute"])
	}
	// The server dies while the action runs.
	s.SetRefuseExecution(codes.OK)
	act2, _ := action(t, c, `sleep 5`, nil, 0, false)
	time.AfterFunc(200*time.Millisecond, s.Stop)
	start := time.Now()
	_, err = c.Execute(context.Background(), act2, false)
	if !IsUnavailable(err) || time.Since(start) > 5*time.Second {
		t.Errorf("server died: %v after %v", err, time.Since(start))
	}
}

// TestInlineReadsWhatTheServerDidNotInline: from a server that inlines no
// output file, GetActionResult with Inline reads those up to UpTo from the
// CAS, in one batch, and leaves bigger ones out.
func TestInlineReadsWhatTheServerDidNotInline(t *testing.T) {
	s := start(t, remotetest.Options{NoInlineFiles: true})
	c := dial(t, s, remote.Config{})
	ctx := context.Background()
	small, big, stdout := blobOf([]byte("small")), blobOf([]byte("a bigger one")), blobOf([]byte("said this"))
	action := digest.OfBytes([]byte("an action"))
	r := &reapi.ActionResult{
		OutputFiles:  []reapi.OutputFile{{Path: "big", Digest: big.Digest}, {Path: "small", Digest: small.Digest}},
		StdoutDigest: stdout.Digest,
	}
	if err := c.UpdateActionResult(ctx, action, r, []remote.Blob{small, big, stdout}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		inline             remote.Inline
		small, big, stdout string
		batches            int64
	}{
		{remote.Inline{}, "", "", "", 0},
		{remote.Inline{Files: []string{"small", "big"}, UpTo: 9}, "small", "", "", 1},
		{remote.Inline{Output: true, Files: []string{"small", "big"}, UpTo: 100}, "small", "a bigger one", "said this", 1},
		{remote.Inline{Output: true, Files: []string{"big"}, UpTo: 100}, "", "a bigger one", "said this", 1},
	} {
		before := s.Stats().RPCs["BatchReadBlobs"]
		got, err := c.GetActionResult(ctx, action, tc.inline)
		if err != nil {
			t.Fatal(err)
		}
		gotSmall, gotBig := string(got.OutputFiles[1].Contents), string(got.OutputFiles[0].Contents)
		batches := s.Stats().RPCs["BatchReadBlobs"] - before
		if gotSmall != tc.small || gotBig != tc.big || string(got.StdoutRaw) != tc.stdout || batches != tc.batches {
			t.Errorf("%+v: small %q, big %q, stdout %q in %d BatchReadBlobs; want %q, %q, %q in %d",
				tc.inline, gotSmall, gotBig, got.StdoutRaw, batches, tc.small, tc.big, tc.stdout, tc.batches)
		}
	}
}

// TestInlineHintDroppedWhenTooBig: a GetActionResult that fails with
// RESOURCE_EXHAUSTED (as when the inlined outputs make the answer bigger
// than the client takes) is retried without inline_output_files; the
// contents are then read from the CAS.
func TestInlineHintDroppedWhenTooBig(t *testing.T) {
	s := start(t, remotetest.Options{})
	c := dial(t, s, remote.Config{})
	ctx := context.Background()
	out := blobOf([]byte("output"))
	action := digest.OfBytes([]byte("an action"))
	r := &reapi.ActionResult{OutputFiles: []reapi.OutputFile{{Path: "o", Digest: out.Digest}}}
	if err := c.UpdateActionResult(ctx, action, r, []remote.Blob{out}); err != nil {
		t.Fatal(err)
	}
	s.FailNext("GetActionResult", 1, codes.ResourceExhausted)
	before := s.Stats().RPCs
	got, err := c.GetActionResult(ctx, action, remote.Inline{Files: []string{"o"}, UpTo: 100})
	if err != nil {
		t.Fatal(err)
	}
	after := s.Stats().RPCs
	// The server inlines what it is asked to: a batch read means the
	// retry did not ask.
	if string(got.OutputFiles[0].Contents) != "output" || after["GetActionResult"]-before["GetActionResult"] != 2 || after["BatchReadBlobs"]-before["BatchReadBlobs"] != 1 {
		t.Errorf("contents %q after %d GetActionResult and %d BatchReadBlobs, want them after 2 and 1",
			got.OutputFiles[0].Contents, after["GetActionResult"]-before["GetActionResult"], after["BatchReadBlobs"]-before["BatchReadBlobs"])
	}
}

func TestActionCacheReadOnly(t *testing.T) {
	s := start(t, remotetest.Options{DisableACUpdate: true})
	c := dial(t, s, remote.Config{})
	if c.CanUpdateActionCache() {
		t.Error("update advertised as enabled")
	}
	err := c.UpdateActionResult(context.Background(), digest.OfBytes([]byte("a")), &reapi.ActionResult{}, nil)
	if err == nil || IsUnavailable(err) || s.Stats().RPCs["UpdateActionResult"] != 1 {
		t.Errorf("err = %v", err)
	}
}

// A server that accepts streams and sends nothing: the idle timeout ends
// each attempt, and the tries are bounded.
func TestStreamIdleTimeout(t *testing.T) {
	s := start(t, remotetest.Options{MaxBatchTotalSizeBytes: 1 << 10})
	c := dial(t, s, remote.Config{Timeout: 100 * time.Millisecond})
	big := blobOf(bytes.Repeat([]byte("z"), 10<<10))
	if _, err := c.Upload(context.Background(), []remote.Blob{big}); err != nil {
		t.Fatal(err)
	}
	s.SetDelay(time.Hour)
	start := time.Now()
	err := c.DownloadFile(context.Background(), big.Digest, filepath.Join(t.TempDir(), "f"), 0o644)
	if !IsUnavailable(err) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "no message from the server") {
		t.Errorf("err does not say why: %v", err)
	}
}

// A long action on a server that sends nothing while it runs: the idle
// timeout reconnects with WaitExecution, which is not a failure when the
// server answers, so the action's length is not bounded by the tries.
func TestExecuteQuietServer(t *testing.T) {
	s := start(t, remotetest.Options{Exec: true})
	c := dial(t, s, remote.Config{Timeout: 100 * time.Millisecond})
	act, _ := action(t, c, `sleep 1; echo ok > out/x.txt`, nil, 0, false)
	resp, err := c.Execute(context.Background(), act, false)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Result.ExitCode != 0 {
		t.Errorf("result %v", resp.Result)
	}
	if st := c.Stats(); st.WaitExecutions < 5 {
		t.Errorf("WaitExecutions = %d, want about 10", st.WaitExecutions)
	}
	if st := s.Stats(); st.Executions != 1 {
		t.Errorf("ran %d times", st.Executions)
	}
}

// TestExecuteQueueTimeout: an action no worker takes (the scheduler keeps
// it QUEUED and the stream alive) fails after Config.QueueTimeout with
// ErrQueueTimeout, which is unavailability; one a worker takes in time
// runs, however long it then runs.
func TestExecuteQueueTimeout(t *testing.T) {
	s := start(t, remotetest.Options{Exec: true, HoldQueued: true, ExecuteUpdateInterval: 50 * time.Millisecond})
	c := dial(t, s, remote.Config{QueueTimeout: 400 * time.Millisecond})
	act, _ := action(t, c, `true`, nil, 0, false)
	begin := time.Now()
	_, err := c.Execute(context.Background(), act, false)
	if !errors.Is(err, remote.ErrQueueTimeout) || !IsUnavailable(err) {
		t.Fatalf("err = %v, want remote.ErrQueueTimeout", err)
	}
	if el := time.Since(begin); el < 400*time.Millisecond || el > 5*time.Second {
		t.Errorf("gave up after %v, want about the queue timeout", el)
	}

	// The queue timeout bounds the wait in the queue, not the run: an
	// action taken at once and running past it succeeds. (Released before
	// Execute, not while it waits, so that a loaded machine cannot make
	// the release itself late.)
	s.SetHoldQueued(false)
	act, _ = action(t, c, `sleep 0.6`, nil, 0, false)
	if _, err := c.Execute(context.Background(), act, false); err != nil {
		t.Errorf("an action taken in time and running past the queue timeout: %v", err)
	}

	// Queued, then taken before the timeout: it runs.
	s.SetHoldQueued(true)
	patient := dial(t, s, remote.Config{QueueTimeout: 5 * time.Second})
	act, _ = action(t, patient, `true`, nil, 0, false)
	go func() { time.Sleep(100 * time.Millisecond); s.SetHoldQueued(false) }()
	if _, err := patient.Execute(context.Background(), act, false); err != nil {
		t.Errorf("an action queued, then taken before the queue timeout: %v", err)
	}
}
