// Package pipe runs a remote.Service in another process and talks to it
// over that process' standard input and output.
//
// Why: the gRPC client of the Remote Execution API (package grpcclient)
// links gRPC, protobuf's runtime and the generated REAPI types, whose
// package initializers and page faults cost every bld command about 15 ms
// before main runs (docs/benchmarks.md), remote services or not. So bld
// itself links none of it: when a build uses a remote cache or executor,
// bld starts the program bld-remote (cmd/bld/bld-remote), which holds the
// gRPC client, and calls it through this package: Start on bld's side,
// Serve on bld-remote's.
//
// # Protocol
//
// Both directions carry frames: a 4-byte big-endian length, then that many
// bytes of one JSON object. bld sends requests, each with an ID of its own
// choosing and an operation; bld-remote answers each request with zero or
// more progress frames (Started, Chunk) and exactly one final frame
// (Final), in any order across requests. The first request is "dial",
// whose answer carries the service's capabilities. A "cancel" request
// cancels the request of its ID, which still gets its final frame.
// bld-remote ends when its input ends (bld closed it, or exited).
//
// Errors cross as text plus what classifies them (the sentinels of
// package remote they wrap, *remote.MissingBlobsError, *remote.ActionError),
// so that errors.Is, errors.As and remote.IsUnavailable answer on bld's
// side as they would have on bld-remote's.
package pipe

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"bld/exec/digest"
	"bld/exec/reapi"
	"bld/exec/remote"
)

// maxFrame bounds a frame; a bigger length means the stream is broken.
const maxFrame = 1 << 30

// chunkSize is how much of a command's output one Chunk frame carries.
const chunkSize = 256 << 10

// Operations.
const (
	opDial               = "dial"
	opGetActionResult    = "getActionResult"
	opUpdateActionResult = "updateActionResult"
	opWriteOutput        = "writeOutput"
	opFindMissing        = "findMissing"
	opUpload             = "upload"
	opReadBlob           = "readBlob"
	opDownloadFile       = "downloadFile"
	opExecute            = "execute"
	opStats              = "stats"
	opCancel             = "cancel"
)

// A request is one frame from bld to bld-remote. Which fields are set
// depends on Op.
type request struct {
	ID      uint64
	Op      string
	Config  *remote.Config      `json:",omitempty"` // dial
	Digest  digest.Digest       `json:",omitempty"` // the action or blob
	Digests []digest.Digest     `json:",omitempty"` // findMissing
	Flag    bool                `json:",omitempty"` // getActionResult: inlineStdout; execute: skipCacheLookup
	Result  *reapi.ActionResult `json:",omitempty"` // updateActionResult, writeOutput
	Blobs   []remote.Blob       `json:",omitempty"` // upload
	Path    string              `json:",omitempty"` // downloadFile
	Perm    uint32              `json:",omitempty"` // downloadFile
}

// A response is one frame from bld-remote to bld: progress of request ID
// (Started, Chunk) or its end (Final, with what it returned).
type response struct {
	ID      uint64
	Started bool   `json:",omitempty"` // execute: the action left the queue
	Chunk   []byte `json:",omitempty"` // writeOutput: the next bytes
	Final   bool   `json:",omitempty"`

	Err      *wireError             `json:",omitempty"`
	Caps     *capabilities          `json:",omitempty"` // dial
	Result   *reapi.ActionResult    `json:",omitempty"` // getActionResult
	Response *reapi.ExecuteResponse `json:",omitempty"` // execute
	Digests  []digest.Digest        `json:",omitempty"` // findMissing
	Data     []byte                 `json:",omitempty"` // readBlob
	Sent     int64                  `json:",omitempty"` // upload
	Stats    *remote.Stats          `json:",omitempty"` // stats
}

// capabilities are what bld needs to know of the service once dialled.
type capabilities struct {
	Target               string
	CanExecute           bool
	CanUpdateActionCache bool
}

// A wireError is an error crossing the pipe.
type wireError struct {
	Message string
	// Is names the sentinels of package remote (and context's) the error
	// wraps (see sentinels).
	Is      []string                  `json:",omitempty"`
	Missing *remote.MissingBlobsError `json:",omitempty"`
	Action  *wireActionError          `json:",omitempty"`
}

// wireActionError is a *remote.ActionError.
type wireActionError struct {
	Action   digest.Digest
	Code     uint32
	Message  string
	Response *reapi.ExecuteResponse `json:",omitempty"`
}

// sentinels are the errors classified by name across the pipe. Unavailable
// also stands for whatever Serve's classifier says of the error on
// bld-remote's side (a gRPC status, a network error).
var sentinels = []struct {
	name string
	err  error
}{
	{"notFound", remote.ErrNotFound},
	{"corrupt", remote.ErrCorrupt},
	{"noWorker", remote.ErrNoWorker},
	{"queueTimeout", remote.ErrQueueTimeout},
	{"unavailable", remote.ErrUnavailable},
}

// toWire describes err for the other side; unavailable says whether err
// is unavailability (remote.IsUnavailable when nil).
func toWire(err error, unavailable func(error) bool) *wireError {
	if err == nil {
		return nil
	}
	if unavailable == nil {
		unavailable = remote.IsUnavailable
	}
	w := &wireError{Message: err.Error()}
	for _, s := range sentinels {
		if errors.Is(err, s.err) || (s.err == remote.ErrUnavailable && unavailable(err)) {
			w.Is = append(w.Is, s.name)
		}
	}
	var missing *remote.MissingBlobsError
	if errors.As(err, &missing) {
		w.Missing = missing
	}
	var ae *remote.ActionError
	if errors.As(err, &ae) {
		w.Action = &wireActionError{Action: ae.Action, Code: uint32(ae.Code), Message: ae.Message, Response: ae.Response}
	}
	return w
}

// A pipedError is an error that crossed the pipe: its text, and what it
// wraps for errors.Is and errors.As.
type pipedError struct {
	msg  string
	errs []error
}

func (e *pipedError) Error() string   { return e.msg }
func (e *pipedError) Unwrap() []error { return e.errs }

// fromWire rebuilds the error w describes.
func fromWire(w *wireError) error {
	if w == nil {
		return nil
	}
	e := &pipedError{msg: w.Message}
	for _, name := range w.Is {
		for _, s := range sentinels {
			if s.name == name {
				e.errs = append(e.errs, s.err)
			}
		}
	}
	if w.Missing != nil {
		e.errs = append(e.errs, w.Missing)
	}
	if a := w.Action; a != nil {
		e.errs = append(e.errs, &remote.ActionError{Action: a.Action, Code: remote.Code(a.Code), Message: a.Message, Response: a.Response})
	}
	return e
}

// writeFrame writes v as one frame.
func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	frame := make([]byte, 4, 4+len(b))
	binary.BigEndian.PutUint32(frame, uint32(len(b)))
	_, err = w.Write(append(frame, b...))
	return err
}

// readFrame reads one frame into v.
func readFrame(r io.Reader, v any) error {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxFrame {
		return fmt.Errorf("a frame of %d bytes: the stream is broken", size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return json.Unmarshal(b, v)
}
