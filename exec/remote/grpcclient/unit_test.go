package grpcclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bld/exec/digest"
	"bld/exec/remote"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	smpb "github.com/bazelbuild/remote-apis/build/bazel/semver"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The size planning counts exactly what proto marshals.
func TestUpdateEntrySizeExact(t *testing.T) {
	for _, n := range []int{1, 100, 127, 128, 16383, 16384, 1 << 20} {
		data := make([]byte, n)
		d := digest.OfBytes(data)
		for _, inst := range []string{"", "main/instance"} {
			req := &repb.BatchUpdateBlobsRequest{InstanceName: inst}
			want0 := proto.Size(req)
			req.Requests = append(req.Requests, &repb.BatchUpdateBlobsRequest_Request{Digest: digestToProto(d), Data: data})
			req.Requests = append(req.Requests, &repb.BatchUpdateBlobsRequest_Request{Digest: digestToProto(d), Data: data})
			got := updateBase(inst) + 2*updateEntrySize(d)
			if int(updateBase(inst)) != want0 || int(got) != proto.Size(req) {
				t.Errorf("size %d instance %q: planned %d (base %d), proto %d (base %d)", n, inst, got, updateBase(inst), proto.Size(req), want0)
			}
		}
	}
}

func TestPlanBatches(t *testing.T) {
	sizes := []int64{40, 40, 40, 95, 10, 200, 30, 30}
	batches, big := planBatches(5, 100, sizes)
	// In order; 95 with the base of 5 fills a batch of its own; 200 goes to ByteStream.
	if got := fmt.Sprint(batches); got != "[[0 1] [2] [3] [4 6 7]]" {
		t.Errorf("batches = %s", got)
	}
	if fmt.Sprint(big) != "[5]" {
		t.Errorf("big = %v, want [5]", big)
	}
	for _, b := range batches {
		total := int64(5)
		for _, i := range b {
			total += sizes[i]
		}
		if total > 100 {
			t.Errorf("batch %v totals %d > 100", b, total)
		}
	}
	if b, big := planBatches(5, 100, nil); b != nil || big != nil {
		t.Errorf("empty plan: %v %v", b, big)
	}
}

func TestBatchLimit(t *testing.T) {
	if m, p := batchLimit(0); m != 4<<20 || p >= m {
		t.Errorf("batchLimit(0) = %d, %d; want 4 MiB and less", m, p)
	}
	if m, p := batchLimit(1000); m != 1000 || p != 1000 {
		t.Errorf("batchLimit(1000) = %d, %d", m, p)
	}
	if m, _ := batchLimit(1 << 40); m != maxMessage {
		t.Errorf("batchLimit(1TiB) = %d", m)
	}
}

func TestAPICompatible(t *testing.T) {
	v := func(maj, min int32) *smpb.SemVer { return &smpb.SemVer{Major: maj, Minor: min} }
	for _, tc := range []struct {
		low, high, dep *smpb.SemVer
		ok             bool
	}{
		{ok: true}, // advertises nothing: 2.0
		{low: v(2, 0), high: v(2, 0), ok: true},
		{low: v(2, 0), high: v(2, 11), ok: true},
		{low: v(2, 3), high: v(3, 0), ok: true},
		{low: v(2, 4), high: v(3, 0), ok: false},
		{low: v(1, 0), high: v(1, 9), ok: false},
		{dep: v(2, 0), ok: true},
		{high: v(2, 1), ok: true},
	} {
		caps := &repb.ServerCapabilities{LowApiVersion: tc.low, HighApiVersion: tc.high, DeprecatedApiVersion: tc.dep}
		if got := apiCompatible(caps); got != tc.ok {
			t.Errorf("apiCompatible(%v..%v dep %v) = %v", tc.low, tc.high, tc.dep, got)
		}
	}
}

func TestOffersSHA256(t *testing.T) {
	if offersSHA256(&repb.ServerCapabilities{}) {
		t.Error("nothing advertised counts as SHA256")
	}
	if !offersSHA256(&repb.ServerCapabilities{CacheCapabilities: &repb.CacheCapabilities{DigestFunctions: []repb.DigestFunction_Value{repb.DigestFunction_BLAKE3, repb.DigestFunction_SHA256}}}) {
		t.Error("cache digest functions not read")
	}
	if !offersSHA256(&repb.ServerCapabilities{ExecutionCapabilities: &repb.ExecutionCapabilities{DigestFunction: repb.DigestFunction_SHA256}}) {
		t.Error("execution digest function not read")
	}
}

func testClient() *Client {
	return &Client{target: "grpc://test:1", timeout: time.Second, retry: retryPolicy{tries: 5, base: time.Millisecond, max: 4 * time.Millisecond}}
}

func TestRetryBound(t *testing.T) {
	c := testClient()
	var n atomic.Int32
	err := c.call(context.Background(), "Test", func(context.Context) error {
		n.Add(1)
		return status.Error(codes.Unavailable, "down")
	})
	if n.Load() != 5 {
		t.Errorf("%d tries, want 5", n.Load())
	}
	if !errors.Is(err, remote.ErrUnavailable) || !IsUnavailable(err) || !strings.Contains(err.Error(), "grpc://test:1") {
		t.Errorf("err = %v", err)
	}
	if c.Stats().Retries != 4 {
		t.Errorf("retries = %d", c.Stats().Retries)
	}

	// A permanent error is not retried and keeps its code.
	n.Store(0)
	err = c.call(context.Background(), "Test", func(context.Context) error {
		n.Add(1)
		return status.Error(codes.InvalidArgument, "bad")
	})
	if n.Load() != 1 || status.Code(err) != codes.InvalidArgument || IsUnavailable(err) {
		t.Errorf("permanent: %d tries, %v", n.Load(), err)
	}

	// Transient then success.
	n.Store(0)
	err = c.call(context.Background(), "Test", func(context.Context) error {
		if n.Add(1) < 3 {
			return status.Error(codes.ResourceExhausted, "busy")
		}
		return nil
	})
	if err != nil || n.Load() != 3 {
		t.Errorf("transient: %d tries, %v", n.Load(), err)
	}
}

func TestRetryHonoursCancel(t *testing.T) {
	c := testClient()
	c.retry.base, c.retry.max = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	err := c.call(ctx, "Test", func(context.Context) error { return status.Error(codes.Unavailable, "down") })
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
	if IsUnavailable(err) {
		t.Errorf("a cancellation counts as unavailable: %v", err)
	}
}

func TestBackoffDelays(t *testing.T) {
	p := retryPolicy{tries: 5, base: 100 * time.Millisecond, max: time.Second}
	var total time.Duration
	for n := 1; n < 40; n++ {
		d := p.delay(n)
		if d > 1200*time.Millisecond || d < 80*time.Millisecond {
			t.Errorf("delay(%d) = %v", n, d)
		}
		if n < p.tries {
			total += d
		}
	}
	if total > 3*time.Second {
		t.Errorf("total backoff over the tries = %v", total)
	}
	if d := p.delay(2); d < 160*time.Millisecond || d > 240*time.Millisecond {
		t.Errorf("delay(2) = %v, want about 200ms", d)
	}
}

func TestIdleStream(t *testing.T) {
	// The bound is far above the kicks' spacing, so that a loaded machine
	// oversleeping a kick does not time the stream out.
	s := newIdleStream(context.Background(), 500*time.Millisecond)
	defer s.stop()
	for range 5 {
		time.Sleep(10 * time.Millisecond)
		s.kick()
	}
	if s.ctx.Err() != nil {
		t.Fatal("kicked stream timed out")
	}
	<-s.ctx.Done()
	err := s.err(context.Canceled)
	if status.Code(err) != codes.DeadlineExceeded || !retryable(context.Background(), err) {
		t.Errorf("idle err = %v", err)
	}
}

func TestIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{status.Error(codes.Unavailable, "x"), true},
		{fmt.Errorf("wrapped: %w", status.Error(codes.DeadlineExceeded, "x")), true},
		{status.Error(codes.NotFound, "x"), false},
		{context.Canceled, false},
		{fmt.Errorf("a: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("x: %w", remote.ErrUnavailable), true},
		{&remote.ActionError{Code: remote.CodeDeadlineExceeded}, false},
		{&remote.ActionError{Code: remote.CodeUnavailable}, true},
		{errors.New("other"), false},
	} {
		if got := IsUnavailable(tc.err); got != tc.want {
			t.Errorf("IsUnavailable(%v) = %v", tc.err, got)
		}
	}
}

func TestMissingBlobs(t *testing.T) {
	d1, d2 := digest.OfBytes([]byte("a")), digest.OfBytes([]byte("b"))
	st, err := status.New(codes.FailedPrecondition, "missing inputs").WithDetails(&errdetails.PreconditionFailure{
		Violations: []*errdetails.PreconditionFailure_Violation{
			{Type: "MISSING", Subject: "blobs/" + d1.String()},
			{Type: "MISSING", Subject: "blobs/" + d2.String()},
			{Type: "OTHER", Subject: "whatever"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := missingBlobs(fmt.Errorf("w: %w", st.Err()))
	if m == nil || len(m.Digests) != 2 || m.Digests[0] != d1 || m.Digests[1] != d2 {
		t.Fatalf("missingBlobs = %v", m)
	}
	if !strings.Contains(m.Error(), "2 input blob(s) missing") {
		t.Errorf("message: %v", m)
	}
	if missingBlobs(status.Error(codes.FailedPrecondition, "no workers for platform")) != nil {
		t.Error("a precondition failure without MISSING is a remote.MissingBlobsError")
	}
}

func TestRunParallelFirstError(t *testing.T) {
	var ran atomic.Int32
	boom := errors.New("boom")
	var jobs []func(context.Context) error
	for i := range 50 {
		jobs = append(jobs, func(ctx context.Context) error {
			ran.Add(1)
			if i == 3 {
				return boom
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			return nil
		})
	}
	if err := runParallel(context.Background(), 4, jobs); err != boom {
		t.Errorf("err = %v", err)
	}
	if ran.Load() == 50 {
		t.Error("jobs kept starting after the error")
	}
}

// writeHelper writes a credential helper script that records its input
// and runs, and answers with the given JSON body.
func writeHelper(t *testing.T, body string) (path, log string) {
	dir := t.TempDir()
	path = filepath.Join(dir, "helper.sh")
	log = filepath.Join(dir, "log")
	script := fmt.Sprintf(`#!/bin/sh
[ "$1" = get ] || { echo "bad arg $1" >&2; exit 2; }
cat >> %q
echo >> %q
cat <<'JSON'
%s
JSON
`, log, log, body)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

func TestCredentialHelper(t *testing.T) {
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	path, log := writeHelper(t, `{"headers": {"Authorization": ["Bearer tok"], "x-b": ["1", "2"]}, "expires": "`+future+`"}`)
	h := newCredHelper(path, "grpcs://remote.example.com:443")
	for range 3 {
		hs, err := h.get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(hs) != "[[authorization Bearer tok] [x-b 1] [x-b 2]]" {
			t.Errorf("headers = %v", hs)
		}
	}
	b, _ := os.ReadFile(log)
	if got := strings.TrimSpace(string(b)); got != `{"uri":"grpcs://remote.example.com:443"}` {
		t.Errorf("helper ran with stdin %q; want one run with the uri", got)
	}

	// Expired: run again on every get.
	path, log = writeHelper(t, `{"headers": {"a": ["b"]}, "expires": "2000-01-01T00:00:00Z"}`)
	h = newCredHelper(path, "grpc://x:1")
	h.get(context.Background())
	h.get(context.Background())
	b, _ = os.ReadFile(log)
	if n := strings.Count(string(b), "uri"); n != 2 {
		t.Errorf("expired headers: helper ran %d times, want 2", n)
	}

	// No expiry: cached for the default duration.
	path, log = writeHelper(t, `{"headers": {"a": ["b"]}}`)
	h = newCredHelper(path, "grpc://x:1")
	now := time.Now()
	h.now = func() time.Time { return now }
	h.get(context.Background())
	h.get(context.Background())
	now = now.Add(credHelperCacheFor + time.Second)
	h.get(context.Background())
	b, _ = os.ReadFile(log)
	if n := strings.Count(string(b), "uri"); n != 2 {
		t.Errorf("helper ran %d times, want 2", n)
	}
}

func TestCredentialHelperErrors(t *testing.T) {
	dir := t.TempDir()
	failing := filepath.Join(dir, "fail.sh")
	os.WriteFile(failing, []byte("#!/bin/sh\necho 'not logged in; run login' >&2\nexit 1\n"), 0o755)
	_, err := newCredHelper(failing, "u").get(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not logged in; run login") {
		t.Errorf("failing helper: %v", err)
	}
	garbage, _ := writeHelper(t, `not json`)
	_, err = newCredHelper(garbage, "u").get(context.Background())
	if err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("garbage helper: %v", err)
	}
	badExp, _ := writeHelper(t, `{"headers": {}, "expires": "tomorrow"}`)
	_, err = newCredHelper(badExp, "u").get(context.Background())
	if err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("bad expiry: %v", err)
	}
	_, err = newCredHelper(filepath.Join(dir, "absent"), "u").get(context.Background())
	if err == nil {
		t.Error("absent helper: no error")
	}
}

// The empty blob needs no RPC: a client without a connection serves it.
func TestEmptyBlobNoRPC(t *testing.T) {
	c := testClient()
	b, err := c.ReadBlob(context.Background(), digest.Empty)
	if err != nil || b == nil || len(b) != 0 {
		t.Errorf("ReadBlob(empty) = %q, %v", b, err)
	}
	path := filepath.Join(t.TempDir(), "e")
	if err := c.DownloadFile(context.Background(), digest.Empty, path, 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("empty file: %v, %v", fi, err)
	}
	if sent, err := c.Upload(context.Background(), []remote.Blob{blobOf(nil)}); err != nil || sent != 0 {
		t.Errorf("Upload(empty) = %d, %v", sent, err)
	}
	if m, err := c.FindMissing(context.Background(), []digest.Digest{digest.Empty}); err != nil || len(m) != 0 {
		t.Errorf("FindMissing(empty) = %v, %v", m, err)
	}
	if _, err := c.ReadBlob(context.Background(), digest.Digest{Hash: strings.Repeat("0", 64)}); !errors.Is(err, remote.ErrCorrupt) {
		t.Errorf("size 0 with another hash: %v", err)
	}
}

// TestCodeNames: remote.Code prints as gRPC's codes do, so messages read
// the same in bld (which does not link gRPC) and in bld-remote.
func TestCodeNames(t *testing.T) {
	for c := uint32(0); c <= 17; c++ {
		if got, want := remote.Code(c).String(), codes.Code(c).String(); got != want {
			t.Errorf("remote.Code(%d) = %q, gRPC says %q", c, got, want)
		}
	}
}
