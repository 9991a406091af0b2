// Package remote is bld's client of the Remote Execution API v2 (REAPI): a
// remote cache (CAS and action cache) and remote execution on the services
// that speak it (Buildbarn, BuildBuddy, NativeLink, bazel-remote).
//
// It is a leaf library: it knows digests (bld/exec/digest), bld's REAPI
// messages (bld/exec/reapi), which its API takes and returns, and the
// generated REAPI types its RPCs use (convert.go converts at that
// boundary), and nothing of bld's graph or local cache.
//
// # Contracts
//
// A *Client is safe for concurrent use. Every method honours its ctx
// (cancelling it ends the call promptly) and never blocks forever: unary
// RPCs are bounded by Config.Timeout per attempt, and streams by the same
// duration as an idle timeout between two messages. Transient failures
// (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, and DEADLINE_EXCEEDED while
// ctx is still live) are retried with exponential backoff, a bounded number
// of times; when the tries are used up the error wraps ErrUnavailable.
// IsUnavailable tells a caller when to fall back to local work.
//
// Digests are SHA-256 only (Dial refuses servers that do not offer it).
// Everything read from the CAS is verified against its digest; a mismatch
// is an error wrapping ErrCorrupt.
//
// # Use
//
// A remote cache: GetActionResult (ErrNotFound on a miss), then ReadBlobs
// or DownloadFile for the outputs; after a local run, Upload the outputs
// and UpdateActionResult (when CanUpdateActionCache).
//
// Remote execution (when CanExecute): Upload the Command, the input root's
// Directory messages (ProtoBlob serializes them as digests require), the
// input files and the Action; Execute; on a *MissingBlobsError upload its
// Digests and Execute again; read the outputs of the response's Result.
// When an error satisfies IsUnavailable, fall back to local work.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"bld/exec/digest"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Config says where the service is and how to talk to it.
type Config struct {
	// Target is "grpc://host:port" (plaintext), "grpcs://host:port" (TLS);
	// a bare "host:port" means grpc://.
	Target       string
	InstanceName string
	// Headers are sent as gRPC metadata on every call (--remote_header
	// NAME=VALUE; see ParseHeader).
	Headers [][2]string
	// Timeout bounds each RPC attempt and each wait for a stream's next
	// message (--remote_timeout); 0 means 60s. Dial and GetCapabilities
	// together are bounded by min(Timeout, 5s).
	Timeout time.Duration
	// TLSCA is a PEM file of CA certificates to trust instead of the
	// system's; TLSCert and TLSKey are a client certificate and its key
	// (mTLS). All need a grpcs:// target.
	TLSCA, TLSCert, TLSKey string
	// CredentialHelper is a program speaking Bazel's credential helper
	// protocol (see credentials.go); the headers it returns are added to
	// every call and it is run again when they expire.
	CredentialHelper string
	// ToolVersion and InvocationID, when set, go into the RequestMetadata
	// sent with every call (tool name "bld"), so that a service's UI can
	// group the calls of one build.
	ToolVersion, InvocationID string
	// QueueTimeout bounds how long Execute waits for a worker to take the
	// action: past it with the operation still QUEUED (a scheduler whose
	// workers are gone keeps actions queued and the stream alive, for
	// Buildbarn 15 minutes), Execute fails with ErrQueueTimeout, which is
	// unavailability. 0 means no bound.
	QueueTimeout time.Duration
}

// DefaultTimeout is the per-RPC timeout when Config.Timeout is 0.
const DefaultTimeout = 60 * time.Second

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
	queueWait time.Duration // Config.QueueTimeout
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

// ErrNotFound is wrapped by errors for blobs or action results the server
// does not have.
var ErrNotFound = errors.New("not found")

// ErrCorrupt is wrapped by errors for data whose digest is not the one asked for.
var ErrCorrupt = errors.New("corrupt blob: content does not match its digest")

// ErrNoWorker is wrapped by Execute's error when no worker of the service
// matches the action's platform: the user's to fix (exec_properties), not
// a reason to wait or to fall back.
var ErrNoWorker = errors.New("no remote worker matches the action's platform")

// ErrQueueTimeout is wrapped by Execute's error when no worker took the
// action within Config.QueueTimeout. It is a kind of ErrUnavailable.
var ErrQueueTimeout = fmt.Errorf("%w: no worker took the action", ErrUnavailable)

// ErrUnavailable is wrapped by errors after the retries of a transient
// failure are used up.
var ErrUnavailable = errors.New("remote service unavailable")

// MissingBlobsError is Execute's error when the server lacks inputs of
// the action (FAILED_PRECONDITION with MISSING violations): upload
// Digests and retry.
type MissingBlobsError struct {
	Digests []digest.Digest
	Message string // the server's words
}

func (e *MissingBlobsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "remote execution: %d input blob(s) missing from the CAS", len(e.Digests))
	for i, d := range e.Digests {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(e.Digests)-i)
			break
		}
		b.WriteString(" ")
		b.WriteString(d.Short())
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// IsUnavailable reports whether err says the service cannot be reached or
// is failing, so that the caller may fall back to local execution:
// retries used up, UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
// a deadline passed, connection refused or other network errors. A
// cancellation by the caller is not unavailability.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, ErrNoWorker) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
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

// ParseHeader parses a --remote_header value "NAME=VALUE". The name must be
// a valid gRPC metadata key (lowercase letters, digits, '-', '_', '.';
// upper case is folded) and not start with "grpc-".
func ParseHeader(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("remote header %q: want NAME=VALUE", s)
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return "", "", fmt.Errorf("remote header %q: empty name; want NAME=VALUE", s)
	}
	for _, r := range name {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "", "", fmt.Errorf("remote header %q: name %q may contain only letters, digits, '-', '_' and '.'", s, name)
		}
	}
	if strings.HasPrefix(name, "grpc-") {
		return "", "", fmt.Errorf("remote header %q: names starting with grpc- are reserved by gRPC", s)
	}
	if strings.HasSuffix(name, "-bin") {
		return "", "", fmt.Errorf("remote header %q: binary (-bin) headers are not supported", s)
	}
	for _, r := range value {
		if r < 0x20 || r > 0x7e {
			return "", "", fmt.Errorf("remote header %q: value must be printable ASCII", s)
		}
	}
	return name, value, nil
}
