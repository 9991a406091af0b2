package remotetest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	lpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

type clients struct {
	conn *grpc.ClientConn
	caps repb.CapabilitiesClient
	cas  repb.ContentAddressableStorageClient
	ac   repb.ActionCacheClient
	bs   bspb.ByteStreamClient
	exec repb.ExecutionClient
}

func start(t *testing.T, opts Options) (*Server, *clients) {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, dial(t, s, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

func dial(t *testing.T, s *Server, opts ...grpc.DialOption) *clients {
	t.Helper()
	opts = append(opts, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	conn, err := grpc.NewClient(s.Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &clients{
		conn: conn,
		caps: repb.NewCapabilitiesClient(conn),
		cas:  repb.NewContentAddressableStorageClient(conn),
		ac:   repb.NewActionCacheClient(conn),
		bs:   bspb.NewByteStreamClient(conn),
		exec: repb.NewExecutionClient(conn),
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantCode(t *testing.T, err error, c codes.Code) {
	t.Helper()
	if status.Code(err) != c {
		t.Fatalf("got %v, want code %v", err, c)
	}
}

func uploadBlobs(t *testing.T, c *clients, inst string, blobs ...[]byte) []*repb.Digest {
	t.Helper()
	req := &repb.BatchUpdateBlobsRequest{InstanceName: inst}
	var ds []*repb.Digest
	for _, b := range blobs {
		d := DigestOf(b)
		ds = append(ds, d)
		req.Requests = append(req.Requests, &repb.BatchUpdateBlobsRequest_Request{Digest: d, Data: b})
	}
	resp, err := c.cas.BatchUpdateBlobs(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Responses {
		if r.Status.GetCode() != 0 {
			t.Fatalf("upload %s: %v", key(r.Digest), r.Status)
		}
	}
	return ds
}

func uploadMessage(t *testing.T, c *clients, inst string, m proto.Message) *repb.Digest {
	t.Helper()
	_, b := DigestOfMessage(m)
	return uploadBlobs(t, c, inst, b)[0]
}

func TestCapabilities(t *testing.T) {
	_, c := start(t, Options{Exec: true, MaxBatchTotalSizeBytes: 1000})
	caps, err := c.caps.GetCapabilities(ctx(t), &repb.GetCapabilitiesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := caps.CacheCapabilities.MaxBatchTotalSizeBytes; got != 1000 {
		t.Errorf("max batch = %d", got)
	}
	if !caps.ExecutionCapabilities.GetExecEnabled() {
		t.Error("exec not enabled")
	}
	if caps.LowApiVersion.Major != 2 || caps.HighApiVersion.Minor != 3 {
		t.Errorf("versions %v–%v", caps.LowApiVersion, caps.HighApiVersion)
	}
	if df := caps.CacheCapabilities.DigestFunctions; len(df) != 1 || df[0] != repb.DigestFunction_SHA256 {
		t.Errorf("digest functions %v", df)
	}
}

func TestBatchRoundTripAndInstances(t *testing.T) {
	s, c := start(t, Options{})
	data := []byte("hello")
	d := uploadBlobs(t, c, "inst-a", data)[0]
	miss, err := c.cas.FindMissingBlobs(ctx(t), &repb.FindMissingBlobsRequest{InstanceName: "inst-a", BlobDigests: []*repb.Digest{d, DigestOf([]byte("nope")), DigestOf(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(miss.MissingBlobDigests) != 1 || miss.MissingBlobDigests[0].Hash != DigestOf([]byte("nope")).Hash {
		t.Errorf("missing = %v", miss.MissingBlobDigests)
	}
	// Another instance does not see the blob.
	miss, err = c.cas.FindMissingBlobs(ctx(t), &repb.FindMissingBlobsRequest{InstanceName: "inst-b", BlobDigests: []*repb.Digest{d}})
	if err != nil || len(miss.MissingBlobDigests) != 1 {
		t.Errorf("inst-b: %v %v", miss, err)
	}
	rd, err := c.cas.BatchReadBlobs(ctx(t), &repb.BatchReadBlobsRequest{InstanceName: "inst-a", Digests: []*repb.Digest{d}})
	if err != nil || !bytes.Equal(rd.Responses[0].Data, data) {
		t.Fatalf("read: %v %v", rd, err)
	}
	if got := s.Instances(); len(got) != 1 || got[0] != "inst-a" {
		t.Errorf("instances %q", got)
	}
	st := s.Stats()
	if st.BatchUpdateBlobs != 1 || st.BatchUpdateBytes != 5 || st.BatchReadBlobs != 1 || st.MaxBatchUpdateBytes != 5 {
		t.Errorf("stats %+v", st)
	}
	// A malformed digest fails the request.
	_, err = c.cas.FindMissingBlobs(ctx(t), &repb.FindMissingBlobsRequest{BlobDigests: []*repb.Digest{{Hash: "abc", SizeBytes: 1}}})
	wantCode(t, err, codes.InvalidArgument)
}

func TestDigestMismatchRejected(t *testing.T) {
	_, c := start(t, Options{})
	d := DigestOf([]byte("right"))
	resp, err := c.cas.BatchUpdateBlobs(ctx(t), &repb.BatchUpdateBlobsRequest{Requests: []*repb.BatchUpdateBlobsRequest_Request{
		{Digest: d, Data: []byte("wrong")},
		{Digest: d, Data: []byte("right!")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Responses {
		if codes.Code(r.Status.GetCode()) != codes.InvalidArgument {
			t.Errorf("status %v, want INVALID_ARGUMENT", r.Status)
		}
	}
	// ByteStream write of wrong data.
	w, err := c.bs.Write(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	w.Send(&bspb.WriteRequest{ResourceName: "uploads/u1/blobs/" + key(d), Data: []byte("wrong"), FinishWrite: true})
	_, err = w.CloseAndRecv()
	wantCode(t, err, codes.InvalidArgument)
}

func TestBatchLimit(t *testing.T) {
	t.Run("advertised", func(t *testing.T) {
		_, c := start(t, Options{MaxBatchTotalSizeBytes: 1000})
		_, err := c.cas.BatchUpdateBlobs(ctx(t), &repb.BatchUpdateBlobsRequest{Requests: []*repb.BatchUpdateBlobsRequest_Request{
			{Digest: DigestOf(make([]byte, 600)), Data: make([]byte, 600)},
			{Digest: DigestOf(make([]byte, 500)), Data: make([]byte, 500)},
		}})
		wantCode(t, err, codes.InvalidArgument)
		// Within the data limit but over it serialized.
		_, err = c.cas.BatchUpdateBlobs(ctx(t), &repb.BatchUpdateBlobsRequest{Requests: []*repb.BatchUpdateBlobsRequest_Request{
			{Digest: DigestOf(make([]byte, 1000)), Data: make([]byte, 1000)},
		}})
		wantCode(t, err, codes.InvalidArgument)
		uploadBlobs(t, c, "", make([]byte, 800))
		_, err = c.cas.BatchReadBlobs(ctx(t), &repb.BatchReadBlobsRequest{Digests: []*repb.Digest{DigestOf(make([]byte, 800)), DigestOf(make([]byte, 801))}})
		wantCode(t, err, codes.InvalidArgument)
	})
	t.Run("hidden", func(t *testing.T) {
		s, c := start(t, Options{})
		big := make([]byte, 3<<20)
		big2 := bytes.Repeat([]byte{1}, 2<<20)
		_, err := c.cas.BatchUpdateBlobs(ctx(t), &repb.BatchUpdateBlobsRequest{Requests: []*repb.BatchUpdateBlobsRequest_Request{
			{Digest: DigestOf(big), Data: big},
			{Digest: DigestOf(big2), Data: big2},
		}})
		wantCode(t, err, codes.ResourceExhausted)
		// Exactly 4 MiB of data is still too big with the message overhead.
		exact := make([]byte, HiddenMessageLimit)
		_, err = c.cas.BatchUpdateBlobs(ctx(t), &repb.BatchUpdateBlobsRequest{Requests: []*repb.BatchUpdateBlobsRequest_Request{
			{Digest: DigestOf(exact), Data: exact},
		}})
		wantCode(t, err, codes.ResourceExhausted)
		uploadBlobs(t, c, "", big)
		if s.Stats().MaxBatchUpdateBytes != 3<<20 {
			t.Errorf("max batch %d", s.Stats().MaxBatchUpdateBytes)
		}
	})
}

func TestByteStream(t *testing.T) {
	s, c := start(t, Options{ReadChunkSize: 1000})
	data := bytes.Repeat([]byte("0123456789"), 1000)
	d := DigestOf(data)
	res := "inst/uploads/3f2c/blobs/" + key(d)
	w, err := c.bs.Write(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 3000 {
		end := min(off+3000, len(data))
		r := &bspb.WriteRequest{WriteOffset: int64(off), Data: data[off:end], FinishWrite: end == len(data)}
		if off == 0 {
			r.ResourceName = res
		}
		if err := w.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	wr, err := w.CloseAndRecv()
	if err != nil || wr.CommittedSize != int64(len(data)) {
		t.Fatalf("write: %v %v", wr, err)
	}
	qs, err := c.bs.QueryWriteStatus(ctx(t), &bspb.QueryWriteStatusRequest{ResourceName: res})
	if err != nil || !qs.Complete {
		t.Errorf("query: %v %v", qs, err)
	}
	read := func(inst string, off, limit int64) ([]byte, error) {
		r, err := c.bs.Read(ctx(t), &bspb.ReadRequest{ResourceName: inst + "blobs/" + key(d), ReadOffset: off, ReadLimit: limit})
		if err != nil {
			return nil, err
		}
		var got []byte
		for {
			m, err := r.Recv()
			if errors.Is(err, io.EOF) {
				return got, nil
			}
			if err != nil {
				return got, err
			}
			got = append(got, m.Data...)
		}
	}
	got, err := read("inst/", 0, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	got, err = read("inst/", 15, 7)
	if err != nil || string(got) != "5678901" {
		t.Errorf("read at 15: %q %v", got, err)
	}
	_, err = read("", 0, 0)
	wantCode(t, err, codes.NotFound)
	_, err = read("inst/", int64(len(data))+1, 0)
	wantCode(t, err, codes.OutOfRange)

	s.CorruptBlob(d)
	got, err = read("inst/", 0, 0)
	if err != nil || bytes.Equal(got, data) || len(got) != len(data) {
		t.Errorf("corrupt read: same=%v %v", bytes.Equal(got, data), err)
	}
	s.HealBlob(d)
	st := s.Stats()
	if st.ByteStreamWriteBlobs != 1 || st.ByteStreamWriteBytes != int64(len(data)) || st.ByteStreamReadBlobs != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestByteStreamResume(t *testing.T) {
	_, c := start(t, Options{})
	data := []byte("abcdefghij")
	d := DigestOf(data)
	res := "uploads/u/blobs/" + key(d)
	cctx, cancel := context.WithCancel(ctx(t))
	w, _ := c.bs.Write(cctx)
	w.Send(&bspb.WriteRequest{ResourceName: res, Data: data[:4]})
	// Wait for the server to commit the bytes, then break the stream.
	deadline := time.Now().Add(5 * time.Second)
	for {
		qs, err := c.bs.QueryWriteStatus(ctx(t), &bspb.QueryWriteStatusRequest{ResourceName: res})
		if err == nil && qs.CommittedSize == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query: %v %v", qs, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	w, _ = c.bs.Write(ctx(t))
	w.Send(&bspb.WriteRequest{ResourceName: res, WriteOffset: 4, Data: data[4:], FinishWrite: true})
	if wr, err := w.CloseAndRecv(); err != nil || wr.CommittedSize != 10 {
		t.Fatalf("resume: %v %v", wr, err)
	}
}

// action uploads a Command and an Action for argv with the given input
// root and returns the action digest.
func action(t *testing.T, c *clients, inst string, cmd *repb.Command, root *repb.Digest, mod func(*repb.Action)) *repb.Digest {
	t.Helper()
	a := &repb.Action{CommandDigest: uploadMessage(t, c, inst, cmd), InputRootDigest: root}
	if mod != nil {
		mod(a)
	}
	return uploadMessage(t, c, inst, a)
}

// execute runs an action to completion over one Execute stream.
func execute(t *testing.T, c *clients, req *repb.ExecuteRequest) (*repb.ExecuteResponse, error) {
	t.Helper()
	st, err := c.exec.Execute(ctx(t), req)
	if err != nil {
		return nil, err
	}
	return finalResponse(t, st)
}

func finalResponse(t *testing.T, st grpc.ServerStreamingClient[lpb.Operation]) (*repb.ExecuteResponse, error) {
	t.Helper()
	for {
		op, err := st.Recv()
		if err != nil {
			return nil, err
		}
		if !op.Done {
			continue
		}
		resp := &repb.ExecuteResponse{}
		if err := op.GetResponse().UnmarshalTo(resp); err != nil {
			t.Fatal(err)
		}
		return resp, nil
	}
}

func TestExecute(t *testing.T) {
	s, c := start(t, Options{Exec: true})
	root := uploadMessage(t, c, "x", &repb.Directory{})
	cmd := &repb.Command{
		Arguments:   []string{"sh", "-c", "echo hi > out && mkdir -p d/e && echo f > d/e/f && ln -s out link && echo err >&2 && env"},
		OutputPaths: []string{"d", "link", "out"},
		EnvironmentVariables: []*repb.Command_EnvironmentVariable{
			{Name: "A", Value: "1"},
		},
	}
	ad := action(t, c, "x", cmd, root, nil)
	resp, err := execute(t, c, &repb.ExecuteRequest{InstanceName: "x", ActionDigest: ad})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.GetCode() != 0 || resp.CachedResult {
		t.Fatalf("response %v", resp)
	}
	r := resp.Result
	if len(r.OutputFiles) != 1 || r.OutputFiles[0].Path != "out" || r.OutputFiles[0].Digest.Hash != DigestOf([]byte("hi\n")).Hash {
		t.Errorf("output files %v", r.OutputFiles)
	}
	if len(r.OutputSymlinks) != 1 || r.OutputSymlinks[0].Target != "out" {
		t.Errorf("symlinks %v", r.OutputSymlinks)
	}
	if len(r.OutputDirectories) != 1 {
		t.Fatalf("dirs %v", r.OutputDirectories)
	}
	tb, ok := s.Blob("x", r.OutputDirectories[0].TreeDigest)
	tree := &repb.Tree{}
	if !ok || proto.Unmarshal(tb, tree) != nil || len(tree.Children) != 1 || tree.Root.Directories[0].Name != "e" {
		t.Errorf("tree %v", tree)
	}
	stdout, _ := s.Blob("x", r.StdoutDigest)
	if string(stdout) != "A=1\n" && !strings.HasPrefix(string(stdout), "A=1\n") {
		t.Errorf("stdout (env) %q", stdout)
	}
	if strings.Contains(string(stdout), "HOME=") {
		t.Errorf("server environment leaked: %q", stdout)
	}
	stderr, _ := s.Blob("x", r.StderrDigest)
	if string(stderr) != "err\n" {
		t.Errorf("stderr %q", stderr)
	}
	if s.ActionResult("x", ad) == nil {
		t.Error("result not cached")
	}

	// Second execution: a cache hit.
	resp, err = execute(t, c, &repb.ExecuteRequest{InstanceName: "x", ActionDigest: ad})
	if err != nil || !resp.CachedResult {
		t.Fatalf("second: %v %v", resp, err)
	}
	// skip_cache_lookup runs again.
	resp, err = execute(t, c, &repb.ExecuteRequest{InstanceName: "x", ActionDigest: ad, SkipCacheLookup: true})
	if err != nil || resp.CachedResult {
		t.Fatalf("third: %v %v", resp, err)
	}
	st := s.Stats()
	if st.Executions != 2 || st.ExecuteCacheHits != 1 {
		t.Errorf("stats %+v", st)
	}
	got, err := c.ac.GetActionResult(ctx(t), &repb.GetActionResultRequest{InstanceName: "x", ActionDigest: ad})
	if err != nil || got.OutputFiles[0].Path != "out" {
		t.Errorf("GetActionResult: %v %v", got, err)
	}
	// An evicted output makes the cached result incomplete: NOT_FOUND.
	s.DeleteBlob("x", r.OutputFiles[0].Digest)
	_, err = c.ac.GetActionResult(ctx(t), &repb.GetActionResultRequest{InstanceName: "x", ActionDigest: ad})
	wantCode(t, err, codes.NotFound)
}

func TestExecuteInputsAndFailures(t *testing.T) {
	_, c := start(t, Options{Exec: true})
	tool := []byte("#!/bin/sh\necho tool ran; cat ../in.txt > out\n")
	sub := &repb.Directory{Files: []*repb.FileNode{{Name: "tool.sh", Digest: DigestOf(tool), IsExecutable: true}}}
	subD, _ := DigestOfMessage(sub)
	in := []byte("input\n")
	root := &repb.Directory{
		Files:       []*repb.FileNode{{Name: "in.txt", Digest: DigestOf(in)}},
		Directories: []*repb.DirectoryNode{{Name: "w", Digest: subD}},
	}
	rootD := uploadMessage(t, c, "", root)
	cmd := &repb.Command{Arguments: []string{"./tool.sh"}, WorkingDirectory: "w", OutputPaths: []string{"out"}}
	ad := action(t, c, "", cmd, rootD, nil)

	// Inputs missing: FAILED_PRECONDITION with MISSING violations.
	resp, err := execute(t, c, &repb.ExecuteRequest{ActionDigest: ad})
	if err != nil {
		t.Fatal(err)
	}
	st := status.FromProto(resp.Status)
	if st.Code() != codes.FailedPrecondition {
		t.Fatalf("status %v", st)
	}
	var subjects []string
	for _, det := range st.Details() {
		if pf, ok := det.(*errdetails.PreconditionFailure); ok {
			for _, v := range pf.Violations {
				if v.Type != "MISSING" {
					t.Errorf("violation type %q", v.Type)
				}
				subjects = append(subjects, v.Subject)
			}
		}
	}
	want := []string{"blobs/" + key(DigestOf(in)), "blobs/" + key(subD)}
	if strings.Join(subjects, " ") != strings.Join(want, " ") {
		t.Errorf("violations %q, want %q", subjects, want)
	}

	uploadBlobs(t, c, "", in, tool)
	uploadMessage(t, c, "", sub)
	resp, err = execute(t, c, &repb.ExecuteRequest{ActionDigest: ad})
	if err != nil || resp.Status.GetCode() != 0 || resp.Result.ExitCode != 0 {
		t.Fatalf("with inputs: %v %v", resp, err)
	}
	if resp.Result.OutputFiles[0].Digest.Hash != DigestOf(in).Hash {
		t.Errorf("out = %v", resp.Result.OutputFiles)
	}

	// Missing Action: an RPC error.
	_, err = execute(t, c, &repb.ExecuteRequest{ActionDigest: DigestOf([]byte("no action"))})
	wantCode(t, err, codes.FailedPrecondition)

	// Deprecated output fields: INVALID_ARGUMENT.
	ad = action(t, c, "", &repb.Command{Arguments: []string{"true"}, OutputFiles: []string{"out"}}, rootD, nil)
	_, err = execute(t, c, &repb.ExecuteRequest{ActionDigest: ad})
	wantCode(t, err, codes.InvalidArgument)

	// Unsorted environment: INVALID_ARGUMENT.
	ad = action(t, c, "", &repb.Command{Arguments: []string{"true"}, EnvironmentVariables: []*repb.Command_EnvironmentVariable{{Name: "B"}, {Name: "A"}}}, rootD, nil)
	_, err = execute(t, c, &repb.ExecuteRequest{ActionDigest: ad})
	wantCode(t, err, codes.InvalidArgument)

	// A failing command is not cached.
	ad = action(t, c, "", &repb.Command{Arguments: []string{"sh", "-c", "exit 3"}}, rootD, nil)
	resp, err = execute(t, c, &repb.ExecuteRequest{ActionDigest: ad})
	if err != nil || resp.Result.ExitCode != 3 {
		t.Fatalf("exit 3: %v %v", resp, err)
	}
	_, err = c.ac.GetActionResult(ctx(t), &repb.GetActionResultRequest{ActionDigest: ad})
	wantCode(t, err, codes.NotFound)

	// Timeout.
	ad = action(t, c, "", &repb.Command{Arguments: []string{"sleep", "10"}}, rootD, func(a *repb.Action) { a.Timeout = durationpb.New(200 * time.Millisecond) })
	start := time.Now()
	resp, err = execute(t, c, &repb.ExecuteRequest{ActionDigest: ad})
	if err != nil || codes.Code(resp.Status.GetCode()) != codes.DeadlineExceeded || time.Since(start) > 5*time.Second {
		t.Fatalf("timeout: %v %v", resp, err)
	}
}

func TestPlatform(t *testing.T) {
	_, c := start(t, Options{Exec: true, Platforms: []*repb.Platform{{Properties: []*repb.Platform_Property{{Name: "OSFamily", Value: "linux"}}}}})
	root := uploadMessage(t, c, "", &repb.Directory{})
	linux := &repb.Platform{Properties: []*repb.Platform_Property{{Name: "OSFamily", Value: "linux"}}}
	ad := action(t, c, "", &repb.Command{Arguments: []string{"true"}, Platform: linux}, root, func(a *repb.Action) { a.Platform = linux })
	if resp, err := execute(t, c, &repb.ExecuteRequest{ActionDigest: ad}); err != nil || resp.Status.GetCode() != 0 {
		t.Fatalf("linux: %v %v", resp, err)
	}
	win := &repb.Platform{Properties: []*repb.Platform_Property{{Name: "OSFamily", Value: "windows"}}}
	ad = action(t, c, "", &repb.Command{Arguments: []string{"true"}, Platform: win}, root, nil)
	_, err := execute(t, c, &repb.ExecuteRequest{ActionDigest: ad})
	wantCode(t, err, codes.FailedPrecondition)
	if !strings.Contains(err.Error(), "OSFamily=windows") {
		t.Errorf("message does not name the platform: %v", err)
	}
}

func TestWaitExecutionAfterDroppedStream(t *testing.T) {
	s, c := start(t, Options{Exec: true, DropExecuteStreamAfter: 1})
	root := uploadMessage(t, c, "", &repb.Directory{})
	ad := action(t, c, "", &repb.Command{Arguments: []string{"sh", "-c", "sleep 0.3; echo done > o"}, OutputPaths: []string{"o"}}, root, nil)
	st, err := c.exec.Execute(ctx(t), &repb.ExecuteRequest{ActionDigest: ad})
	if err != nil {
		t.Fatal(err)
	}
	op, err := st.Recv()
	if err != nil || op.Done {
		t.Fatalf("first message: %v %v", op, err)
	}
	_, err = st.Recv()
	wantCode(t, err, codes.Unavailable)

	w, err := c.exec.WaitExecution(ctx(t), &repb.WaitExecutionRequest{Name: op.Name})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := finalResponse(t, w)
	if err != nil || resp.Result.GetOutputFiles()[0].Path != "o" {
		t.Fatalf("wait: %v %v", resp, err)
	}

	s.SetForgetOperations(true)
	w, _ = c.exec.WaitExecution(ctx(t), &repb.WaitExecutionRequest{Name: op.Name})
	_, err = w.Recv()
	wantCode(t, err, codes.NotFound)
}

func TestUpdateActionResultChecksBlobs(t *testing.T) {
	_, c := start(t, Options{})
	ad := DigestOf([]byte("action"))
	out := DigestOf([]byte("out"))
	_, err := c.ac.UpdateActionResult(ctx(t), &repb.UpdateActionResultRequest{ActionDigest: ad, ActionResult: &repb.ActionResult{
		OutputFiles: []*repb.OutputFile{{Path: "o", Digest: out}},
	}})
	wantCode(t, err, codes.FailedPrecondition)
	uploadBlobs(t, c, "", []byte("out"))
	_, err = c.ac.UpdateActionResult(ctx(t), &repb.UpdateActionResultRequest{ActionDigest: ad, ActionResult: &repb.ActionResult{
		OutputFiles: []*repb.OutputFile{{Path: "o", Digest: out}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.ac.GetActionResult(ctx(t), &repb.GetActionResultRequest{ActionDigest: ad, InlineOutputFiles: []string{"o"}})
	if err != nil || string(r.OutputFiles[0].Contents) != "out" {
		t.Fatalf("get: %v %v", r, err)
	}
}

func TestHeadersAndFaults(t *testing.T) {
	s, c := start(t, Options{Exec: true})
	md := metadata.Pairs("x-token", "secret")
	rm, _ := proto.Marshal(&repb.RequestMetadata{ToolInvocationId: "inv-1"})
	md.Append("build.bazel.remote.execution.v2.requestmetadata-bin", string(rm))
	cctx := metadata.NewOutgoingContext(ctx(t), md)
	if _, err := c.caps.GetCapabilities(cctx, &repb.GetCapabilitiesRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := s.HeaderValues("X-Token"); len(got) != 1 || got[0] != "secret" {
		t.Errorf("header values %q", got)
	}
	calls := s.Calls()
	if calls[len(calls)-1].RequestMetadata.GetToolInvocationId() != "inv-1" {
		t.Errorf("request metadata %v", calls[len(calls)-1].RequestMetadata)
	}

	s.SetRefuseExecution(codes.ResourceExhausted)
	_, err := execute(t, c, &repb.ExecuteRequest{ActionDigest: DigestOf(nil)})
	wantCode(t, err, codes.ResourceExhausted)
	s.SetRefuseExecution(codes.OK)

	s.SetDelay(200 * time.Millisecond)
	start := time.Now()
	c.caps.GetCapabilities(ctx(t), &repb.GetCapabilitiesRequest{})
	if time.Since(start) < 200*time.Millisecond {
		t.Error("no delay")
	}
	s.SetDelay(0)

	s.Kill()
	_, err = c.caps.GetCapabilities(ctx(t), &repb.GetCapabilitiesRequest{}, grpc.WaitForReady(false))
	wantCode(t, err, codes.Unavailable)
}

func TestMTLS(t *testing.T) {
	certs, err := NewTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{TLS: certs.ServerTLS(true)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	c := dial(t, s, grpc.WithTransportCredentials(credentials.NewTLS(certs.ClientTLS(true))))
	if _, err := c.caps.GetCapabilities(ctx(t), &repb.GetCapabilitiesRequest{}); err != nil {
		t.Fatalf("with client cert: %v", err)
	}
	// From the PEM files, as a client configured by flags would load them.
	pair, err := tls.LoadX509KeyPair(certs.ClientCertFile, certs.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c = dial(t, s, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}})))
	if _, err := c.caps.GetCapabilities(ctx(t), &repb.GetCapabilitiesRequest{}); err != nil {
		t.Fatalf("from PEM files: %v", err)
	}
	c = dial(t, s, grpc.WithTransportCredentials(credentials.NewTLS(certs.ClientTLS(false))))
	if _, err := c.caps.GetCapabilities(ctx(t), &repb.GetCapabilitiesRequest{}); err == nil {
		t.Fatal("no client cert: accepted")
	}
	c = dial(t, s, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if _, err := c.caps.GetCapabilities(ctx(t), &repb.GetCapabilitiesRequest{}); err == nil {
		t.Fatal("plaintext: accepted")
	}
}

func TestRestartKeepsDataForgetsOperations(t *testing.T) {
	s, c := start(t, Options{Exec: true})
	d := uploadBlobs(t, c, "", []byte("kept"))[0]
	root := uploadMessage(t, c, "", &repb.Directory{})
	ad := action(t, c, "", &repb.Command{Arguments: []string{"sleep", "30"}}, root, nil)
	st, err := c.exec.Execute(ctx(t), &repb.ExecuteRequest{ActionDigest: ad})
	if err != nil {
		t.Fatal(err)
	}
	op, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("Stop waited %v for the killed action", time.Since(start))
	}
	_, err = st.Recv()
	wantCode(t, err, codes.Unavailable)
	// The same connection reconnects to the same address.
	miss, err := c.cas.FindMissingBlobs(ctx(t), &repb.FindMissingBlobsRequest{BlobDigests: []*repb.Digest{d}}, grpc.WaitForReady(true))
	if err != nil || len(miss.MissingBlobDigests) != 0 {
		t.Fatalf("after restart: %v %v", miss, err)
	}
	w, _ := c.exec.WaitExecution(ctx(t), &repb.WaitExecutionRequest{Name: op.Name})
	_, err = w.Recv()
	wantCode(t, err, codes.NotFound)
}

func TestFailNext(t *testing.T) {
	s, c := start(t, Options{})
	s.FailNext("FindMissingBlobs", 2, codes.Unavailable)
	req := &repb.FindMissingBlobsRequest{BlobDigests: []*repb.Digest{DigestOf([]byte("x"))}}
	for i := 0; i < 2; i++ {
		_, err := c.cas.FindMissingBlobs(ctx(t), req)
		wantCode(t, err, codes.Unavailable)
	}
	if _, err := c.cas.FindMissingBlobs(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	s.FailNext("", 1, codes.ResourceExhausted)
	_, err := c.caps.GetCapabilities(ctx(t), &repb.GetCapabilitiesRequest{})
	wantCode(t, err, codes.ResourceExhausted)
}

func TestWriteEarlyReturn(t *testing.T) {
	s, c := start(t, Options{WriteEarlyReturn: true})
	data := bytes.Repeat([]byte("z"), 1<<20)
	d := uploadBlobs(t, c, "", data)[0]
	w, err := c.bs.Write(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	res := "uploads/u/blobs/" + key(d)
	var sendErr error
	for off := 0; off < len(data) && sendErr == nil; off += 1024 {
		r := &bspb.WriteRequest{WriteOffset: int64(off), Data: data[off : off+1024], FinishWrite: off+1024 == len(data)}
		if off == 0 {
			r.ResourceName = res
		}
		sendErr = w.Send(r)
	}
	if !errors.Is(sendErr, io.EOF) {
		t.Logf("Send did not see the early end (it may all fit in flow-control windows): %v", sendErr)
	}
	wr, err := w.CloseAndRecv()
	if err != nil || wr.CommittedSize != int64(len(data)) {
		t.Fatalf("early return: %v %v", wr, err)
	}
	if s.Stats().ByteStreamWriteEarlyReturns != 1 {
		t.Errorf("stats %+v", s.Stats())
	}
}

func TestDirectoryOnlyOutputAndExecuted(t *testing.T) {
	s, c := start(t, Options{Exec: true})
	root := uploadMessage(t, c, "", &repb.Directory{})
	cmd := &repb.Command{
		Arguments:             []string{"sh", "-c", "mkdir -p out/sub && echo x > out/sub/f"},
		OutputPaths:           []string{"out"},
		OutputDirectoryFormat: repb.Command_DIRECTORY_ONLY,
	}
	ad := action(t, c, "", cmd, root, nil)
	resp, err := execute(t, c, &repb.ExecuteRequest{ActionDigest: ad})
	if err != nil || resp.Status.GetCode() != 0 {
		t.Fatalf("%v %v", resp, err)
	}
	od := resp.Result.OutputDirectories[0]
	if od.TreeDigest != nil || od.RootDirectoryDigest == nil {
		t.Fatalf("output directory %v", od)
	}
	var dirs []*repb.Directory
	tr, err := c.cas.GetTree(ctx(t), &repb.GetTreeRequest{RootDigest: od.RootDirectoryDigest})
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := tr.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, r.Directories...)
	}
	if len(dirs) != 2 || dirs[1].Files[0].Name != "f" {
		t.Errorf("GetTree: %v", dirs)
	}
	// Completeness covers the directories: evicting one hides the result.
	s.DeleteBlob("", dirs[1].Files[0].Digest)
	_, err = c.ac.GetActionResult(ctx(t), &repb.GetActionResultRequest{ActionDigest: ad})
	wantCode(t, err, codes.NotFound)

	ex := s.Executed()
	if len(ex) != 1 || ex[0].Command.Arguments[0] != "sh" || ex[0].ActionDigest.Hash != ad.Hash {
		t.Errorf("executed %v", ex)
	}
}

func TestMissingInputsAsRPCError(t *testing.T) {
	_, c := start(t, Options{Exec: true, MissingInputsAsRPCError: true})
	in := DigestOf([]byte("absent"))
	root := uploadMessage(t, c, "", &repb.Directory{Files: []*repb.FileNode{{Name: "a", Digest: in}}})
	ad := action(t, c, "", &repb.Command{Arguments: []string{"cat", "a"}}, root, nil)
	_, err := execute(t, c, &repb.ExecuteRequest{ActionDigest: ad})
	wantCode(t, err, codes.FailedPrecondition)
	var subjects []string
	for _, det := range status.Convert(err).Details() {
		if pf, ok := det.(*errdetails.PreconditionFailure); ok {
			for _, v := range pf.Violations {
				subjects = append(subjects, v.Type+" "+v.Subject)
			}
		}
	}
	if len(subjects) != 1 || subjects[0] != "MISSING blobs/"+key(in) {
		t.Errorf("violations %q", subjects)
	}
}

func TestExecuteUpdatesAndCommandEnv(t *testing.T) {
	_, c := start(t, Options{Exec: true, ExecuteUpdateInterval: 50 * time.Millisecond, PATH: "/nonexistent:/usr/bin:/bin"})
	root := uploadMessage(t, c, "", &repb.Directory{})
	// No PATH in the Command: env is found in the server's PATH, and it
	// sees exactly the Command's environment.
	ad := action(t, c, "", &repb.Command{Arguments: []string{"env"}, EnvironmentVariables: []*repb.Command_EnvironmentVariable{{Name: "A", Value: "1"}, {Name: "B", Value: "x y"}}}, root, nil)
	resp, err := execute(t, c, &repb.ExecuteRequest{ActionDigest: ad, InlineStdout: true})
	if err != nil || string(resp.Result.StdoutRaw) != "A=1\nB=x y\n" {
		t.Fatalf("env: %q %v", resp.GetResult().GetStdoutRaw(), err)
	}

	ad = action(t, c, "", &repb.Command{Arguments: []string{"sleep", "0.4"}}, root, nil)
	st, err := c.exec.Execute(ctx(t), &repb.ExecuteRequest{ActionDigest: ad})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		op, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		n++
		if op.Done {
			break
		}
	}
	if n < 4 {
		t.Errorf("%d messages; want updates every 50ms over 400ms", n)
	}
}

func TestConcurrentClients(t *testing.T) {
	s, c := start(t, Options{Exec: true, ExecuteUpdateInterval: 10 * time.Millisecond})
	root := uploadMessage(t, c, "", &repb.Directory{})
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		go func() {
			data := []byte(strings.Repeat("x", i+1))
			req := &repb.BatchUpdateBlobsRequest{Requests: []*repb.BatchUpdateBlobsRequest_Request{{Digest: DigestOf(data), Data: data}}}
			if _, err := c.cas.BatchUpdateBlobs(context.Background(), req); err != nil {
				errs <- err
				return
			}
			cmd := &repb.Command{Arguments: []string{"sh", "-c", "sleep 0.05; echo " + string(data) + " > o"}, OutputPaths: []string{"o"}}
			_, cb := DigestOfMessage(cmd)
			a := &repb.Action{CommandDigest: DigestOf(cb), InputRootDigest: root}
			ad, ab := DigestOfMessage(a)
			req = &repb.BatchUpdateBlobsRequest{Requests: []*repb.BatchUpdateBlobsRequest_Request{{Digest: DigestOf(cb), Data: cb}, {Digest: ad, Data: ab}}}
			if _, err := c.cas.BatchUpdateBlobs(context.Background(), req); err != nil {
				errs <- err
				return
			}
			st, err := c.exec.Execute(context.Background(), &repb.ExecuteRequest{ActionDigest: ad})
			if err != nil {
				errs <- err
				return
			}
			for {
				op, err := st.Recv()
				if err != nil {
					errs <- err
					return
				}
				if op.Done {
					errs <- nil
					return
				}
			}
		}()
	}
	for i := 0; i < 16; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := s.Stats().Executions; got != 16 {
		t.Errorf("executions %d", got)
	}
}
