package remote

import (
	"context"
	"io"
	"os"

	"bld/exec/digest"
	"bld/exec/reapi"
)

// A Service is what bld asks of a remote cache and executor, whoever
// serves it: a gRPC client in this process (package grpcclient, in the
// bld-remote program) or bld-remote at the other end of a pipe (package
// pipe, in bld). The contracts are those of the package comment: every
// method honours its ctx, is safe for concurrent use, and fails with
// errors that ErrNotFound, ErrCorrupt, ErrNoWorker, *MissingBlobsError,
// *ActionError and IsUnavailable classify.
type Service interface {
	// Target is the service's address, normalized ("grpc://host:port").
	Target() string
	// CanExecute reports whether the service runs actions.
	CanExecute() bool
	// CanUpdateActionCache reports whether the service accepts results.
	CanUpdateActionCache() bool
	// MarkFailed records that the service failed, so its users stop
	// calling it; it reports whether this call was the first.
	MarkFailed() bool
	// Failed reports whether MarkFailed was called.
	Failed() bool

	// GetActionResult returns the action cache's result for action
	// (ErrNotFound on a miss), with the contents inline asks for.
	GetActionResult(ctx context.Context, action digest.Digest, inline Inline) (*reapi.ActionResult, error)
	// UpdateActionResult puts blobs in the CAS (as Upload does: those it
	// lacks), then stores r as action's result: one call for what is
	// always done together (the blobs r names must be in the CAS first).
	UpdateActionResult(ctx context.Context, action digest.Digest, r *reapi.ActionResult, blobs []Blob) error
	// WriteOutput writes what the command of r printed to w (stdout, then
	// stderr), streamed and verified; on an error, what was written must
	// be dropped. A nil r printed nothing.
	WriteOutput(ctx context.Context, r *reapi.ActionResult, w io.Writer) error

	// FindMissing returns those of ds the CAS lacks, each once, in order.
	FindMissing(ctx context.Context, ds []digest.Digest) ([]digest.Digest, error)
	// Upload puts blobs in the CAS and returns the bytes sent.
	Upload(ctx context.Context, blobs []Blob) (sent int64, err error)
	// ReadBlob returns the verified content of d.
	ReadBlob(ctx context.Context, d digest.Digest) ([]byte, error)
	// DownloadFile writes the verified content of d to path (atomically:
	// path never holds partial content) with permissions perm.
	DownloadFile(ctx context.Context, d digest.Digest, path string, perm os.FileMode) error

	// ExecuteNotify runs action remotely and returns the service's
	// response, its result with the contents inline asks for, calling
	// started (if not nil) once when the action left the queue. A command
	// that exited non-zero is not an error.
	ExecuteNotify(ctx context.Context, action digest.Digest, skipCacheLookup bool, inline Inline, started func()) (*reapi.ExecuteResponse, error)

	// Stats counts the traffic since the service was dialled.
	Stats() Stats
	// Close ends the connection.
	Close() error
}

// Inline says which contents a call that returns an ActionResult puts in
// it, so that its caller needs no further call to read them (each call
// is a round trip to the service and, from bld, through bld-remote): the
// command's output (StdoutRaw, StderrRaw) when Output, and the contents of
// the output files whose paths are in Files (OutputFile.Contents), each
// blob up to UpTo bytes. GetActionResult asks the server to inline them
// (inline_stdout, inline_output_files: it may not, or may inline bigger
// ones too; a client that cannot take the answer asks again without);
// what it did not inline is read from the CAS by one ReadBlobs (one batch
// unless they are many or big), verified; what the server inlined is the
// caller's to verify, as without Inline. It is best effort: contents that
// cannot be read are left out, for the caller to read as it would without
// Inline (and see the error then). Output alone, with no UpTo, only asks
// the server to inline the command's output; the zero Inline asks for
// nothing.
type Inline struct {
	Output bool
	Files  []string
	UpTo   int64
}
