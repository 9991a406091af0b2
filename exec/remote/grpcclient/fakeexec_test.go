package grpcclient

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bld/exec/digest"
	"bld/exec/remote"

	lpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
)

// opServer answers every Execute with the done operation next() returns.
type opServer struct {
	repb.UnimplementedExecutionServer
	calls atomic.Int32
	next  func(n int32) *lpb.Operation
}

func (s *opServer) Execute(req *repb.ExecuteRequest, stream grpc.ServerStreamingServer[lpb.Operation]) error {
	return stream.Send(s.next(s.calls.Add(1)))
}

func startOpServer(t *testing.T, next func(n int32) *lpb.Operation) (*Client, *opServer) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	repb.RegisterCapabilitiesServer(g, capsServer{caps: &repb.ServerCapabilities{
		CacheCapabilities:     &repb.CacheCapabilities{DigestFunctions: []repb.DigestFunction_Value{repb.DigestFunction_SHA256}},
		ExecutionCapabilities: &repb.ExecutionCapabilities{ExecEnabled: true, DigestFunction: repb.DigestFunction_SHA256},
	}})
	srv := &opServer{next: next}
	repb.RegisterExecutionServer(g, srv)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	c, err := Dial(context.Background(), remote.Config{Target: lis.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	c.retry = retryPolicy{tries: 5, base: time.Millisecond, max: 5 * time.Millisecond}
	t.Cleanup(func() { c.Close() })
	return c, srv
}

func doneOp(t *testing.T, resp *repb.ExecuteResponse) *lpb.Operation {
	a, err := anypb.New(resp)
	if err != nil {
		t.Fatal(err)
	}
	return &lpb.Operation{Name: "op", Done: true, Result: &lpb.Operation_Response{Response: a}}
}

// An operation that ends with a transient error is run again; one that
// keeps failing so is bounded.
func TestExecuteOperationErrors(t *testing.T) {
	act := digest.OfBytes([]byte("action"))
	c, s := startOpServer(t, func(n int32) *lpb.Operation {
		if n < 3 {
			return &lpb.Operation{Name: "op", Done: true, Result: &lpb.Operation_Error{Error: &spb.Status{Code: int32(codes.Unavailable), Message: "worker lost"}}}
		}
		return doneOp(t, &repb.ExecuteResponse{Result: &repb.ActionResult{ExitCode: 7}})
	})
	resp, err := c.Execute(context.Background(), act, false)
	if err != nil || resp.Result.ExitCode != 7 || s.calls.Load() != 3 {
		t.Errorf("resp %v, err %v, %d calls", resp, err, s.calls.Load())
	}

	c, s = startOpServer(t, func(int32) *lpb.Operation {
		return &lpb.Operation{Name: "op", Done: true, Result: &lpb.Operation_Error{Error: &spb.Status{Code: int32(codes.ResourceExhausted), Message: "queue full"}}}
	})
	_, err = c.Execute(context.Background(), act, false)
	if !errors.Is(err, remote.ErrUnavailable) || s.calls.Load() != 5 {
		t.Errorf("err %v, %d calls", err, s.calls.Load())
	}

	c, _ = startOpServer(t, func(int32) *lpb.Operation {
		return &lpb.Operation{Name: "op", Done: true, Result: &lpb.Operation_Error{Error: &spb.Status{Code: int32(codes.InvalidArgument), Message: "bad action"}}}
	})
	_, err = c.Execute(context.Background(), act, false)
	if err == nil || IsUnavailable(err) || !strings.Contains(err.Error(), "bad action") {
		t.Errorf("err %v", err)
	}

	c, _ = startOpServer(t, func(int32) *lpb.Operation {
		return &lpb.Operation{Name: "op", Done: true}
	})
	if _, err = c.Execute(context.Background(), act, false); err == nil || !strings.Contains(err.Error(), "without a response") {
		t.Errorf("err %v", err)
	}
}
