// Package remote says what bld asks of a remote cache and executor that
// speak the Remote Execution API v2 (REAPI: Buildbarn, BuildBuddy,
// NativeLink, bazel-remote): the Service interface, its configuration, and
// the errors that classify its failures. It links no gRPC: the gRPC client
// is package grpcclient, run in the program bld-remote, and bld talks to it
// through package pipe (which says why).
//
// # Contracts
//
// A Service is safe for concurrent use. Every method honours its ctx
// (cancelling it ends the call promptly) and never blocks forever.
// Transient failures are retried with backoff a bounded number of times;
// when the tries are used up the error wraps ErrUnavailable. IsUnavailable
// tells a caller when to fall back to local work.
//
// Digests are SHA-256 only. Everything read from the CAS is verified
// against its digest; a mismatch is an error wrapping ErrCorrupt.
//
// # Use
//
// A remote cache: GetActionResult (ErrNotFound on a miss), then ReadBlob
// or DownloadFile for the outputs; after a local run, Upload the outputs
// and UpdateActionResult (when CanUpdateActionCache).
//
// Remote execution (when CanExecute): Upload the Command, the input root's
// Directory messages, the input files and the Action; ExecuteNotify; on a
// *MissingBlobsError upload its Digests and execute again; read the
// outputs of the response's Result. When an error satisfies IsUnavailable,
// fall back to local work.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"bld/exec/digest"
	"bld/exec/reapi"
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
	// message (--remote_timeout); 0 means DefaultTimeout. Dial and
	// GetCapabilities together are bounded by min(Timeout, 5s).
	Timeout time.Duration
	// TLSCA is a PEM file of CA certificates to trust instead of the
	// system's; TLSCert and TLSKey are a client certificate and its key
	// (mTLS). All need a grpcs:// target.
	TLSCA, TLSCert, TLSKey string
	// CredentialHelper is a program speaking Bazel's credential helper
	// protocol (see grpcclient's credentials.go); the headers it returns
	// are added to every call and it is run again when they expire.
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

// A Blob is content to upload: Data, or when Data is nil and Path is set,
// the content of the file Path (read when sent, streamed when big). Digest
// is trusted to be the content's, as the caller computed it.
type Blob struct {
	Digest digest.Digest
	Data   []byte
	Path   string
}

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
// failure are used up, and by every error a Service returns for a service
// that cannot be reached or is failing.
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

// ActionError is Execute's error when the server ran (or tried to run) the
// action and its ExecuteResponse carries a non-OK status: the action timed
// out (DEADLINE_EXCEEDED), the worker failed, the platform matches no
// worker, and so on. Response holds what the server returned (it may have
// a partial result, e.g. output of a timed-out action). It unwraps to
// ErrUnavailable when the code says the service is failing (UNAVAILABLE,
// RESOURCE_EXHAUSTED), so IsUnavailable holds for those only.
type ActionError struct {
	Action   digest.Digest
	Code     Code
	Message  string // the server's words
	Response *reapi.ExecuteResponse
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("remote execution of action %s: %s: %s", e.Action.Short(), e.Code, e.Message)
}

// TimedOut reports whether the action ran out of its time on the server
// (DEADLINE_EXCEEDED).
func (e *ActionError) TimedOut() bool { return e.Code == CodeDeadlineExceeded }

func (e *ActionError) Unwrap() error {
	switch e.Code {
	case CodeUnavailable, CodeResourceExhausted:
		return ErrUnavailable
	}
	return nil
}

// IsUnavailable reports whether err says the service cannot be reached or
// is failing, so that the caller may fall back to local execution:
// retries used up (ErrUnavailable), a deadline passed, a connection
// refused, reset or unreachable. A cancellation by the caller is not
// unavailability. (grpcclient.IsUnavailable also reads gRPC's status codes
// and network errors; a Service returns its errors classified.)
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, ErrNoWorker) {
		return false
	}
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// OutputInlined reports whether all that the command of r printed is in r
// itself (stdout_raw and stderr_raw, or nothing), so that a Service's
// WriteOutput is r.StdoutRaw then r.StderrRaw and needs no call.
func OutputInlined(r *reapi.ActionResult) bool {
	return (len(r.StdoutRaw) > 0 || r.StdoutDigest.Size == 0) && (len(r.StderrRaw) > 0 || r.StderrDigest.Size == 0)
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
