// Package grpcclient is bld's client of the Remote Execution API v2
// (REAPI) over gRPC: a remote cache (CAS and action cache) and remote
// execution on the services that speak it (Buildbarn, BuildBuddy,
// NativeLink, bazel-remote). A *Client is a remote.Service (the contracts
// are package remote's). It runs in the program bld-remote, not in bld
// (package bld/exec/remote/pipe says why).
//
// It is a leaf library: it knows digests (bld/exec/digest), package remote,
// bld's REAPI messages (bld/exec/reapi), which its API takes and returns,
// and the generated REAPI types its RPCs use (convert.go converts at that
// boundary), and nothing of bld's graph or local cache.
//
// Transient failures (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, and
// DEADLINE_EXCEEDED while ctx is still live) are retried with exponential
// backoff, a bounded number of times; when the tries are used up the error
// wraps remote.ErrUnavailable. Unary RPCs are bounded by Config.Timeout per
// attempt, and streams by the same duration as an idle timeout between two
// messages. Digests are SHA-256 only (Dial refuses servers that do not
// offer it).
package grpcclient

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"bld/exec/remote"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// dialTimeoutCap bounds Dial+GetCapabilities, so that an unreachable
// endpoint costs at most a few seconds.
const dialTimeoutCap = 5 * time.Second

// defaultMaxBatch is the batch limit assumed when the server advertises
// none: gRPC's default 4 MiB message limit, which real servers enforce.
const defaultMaxBatch = 4 << 20

// Client is a connection to one REAPI service and instance.
type Client struct {
	target    string // normalized, e.g. "grpc://host:port"
	instance  string
	timeout   time.Duration
	queueWait time.Duration // remote.Config.QueueTimeout
	conn      *grpc.ClientConn
	caps      *repb.ServerCapabilities
	maxBatch  int64 // MaxBatchBytes
	planLimit int64 // what batches are planned under, <= maxBatch
	retry     retryPolicy
	creds     *credHelper // nil without a helper

	cas     repb.ContentAddressableStorageClient
	ac      repb.ActionCacheClient
	exec    repb.ExecutionClient
	bs      bspb.ByteStreamClient
	capsCli repb.CapabilitiesClient

	stats  counters
	failed atomic.Bool // MarkFailed
}

// MarkFailed records that the service failed (unreachable, timing out,
// broken): its users stop calling it for the rest of the client's life,
// and share what one of them learned. It reports whether this call was the
// first, so that exactly one user tells the user.
func (c *Client) MarkFailed() bool { return c.failed.CompareAndSwap(false, true) }

// Failed reports whether MarkFailed was called.
func (c *Client) Failed() bool { return c.failed.Load() }

// Target returns the normalized target the client is connected to.
func (c *Client) Target() string { return c.target }

// Close closes the connection. Calls in flight fail.
func (c *Client) Close() error { return c.conn.Close() }

// Capabilities returns what the server advertised at Dial. Do not modify it.
func (c *Client) Capabilities() *repb.ServerCapabilities { return c.caps }

// CanExecute reports whether the server offers remote execution
// (ExecutionCapabilities.exec_enabled).
func (c *Client) CanExecute() bool {
	return c.caps.GetExecutionCapabilities().GetExecEnabled()
}

// CanUpdateActionCache reports whether the server lets clients write the
// action cache (ActionCacheUpdateCapabilities.update_enabled).
func (c *Client) CanUpdateActionCache() bool {
	return c.caps.GetCacheCapabilities().GetActionCacheUpdateCapabilities().GetUpdateEnabled()
}

// MaxBatchBytes is the largest total size of a batch request the server
// accepts: its max_batch_total_size_bytes, or 4 MiB when it advertises
// none. Batches this client builds stay under it including the messages'
// own overhead.
func (c *Client) MaxBatchBytes() int64 { return c.maxBatch }

// IsUnavailable is remote.IsUnavailable, also reading what only this
// package can see: gRPC's status codes UNAVAILABLE, DEADLINE_EXCEEDED and
// RESOURCE_EXHAUSTED, and network errors. bld-remote classifies the
// errors it passes to bld with it (package pipe).
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, remote.ErrNoWorker) {
		return false
	}
	if remote.IsUnavailable(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	switch statusCode(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return true
	}
	return false
}

// statusCode returns the gRPC code of err, looking through wrapping;
// codes.OK for nil, codes.Unknown for errors without a status.
func statusCode(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Code()
	}
	if errors.Is(err, context.Canceled) {
		return codes.Canceled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded
	}
	return codes.Unknown
}
