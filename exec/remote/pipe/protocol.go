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
	"sync"

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
	Flag    bool                `json:",omitempty"` // execute: skipCacheLookup
	Inline  *remote.Inline      `json:",omitempty"` // getActionResult, execute
	Result  *reapi.ActionResult `json:",omitempty"` // updateActionResult, writeOutput
	Blobs   []remote.Blob       `json:",omitempty"` // upload, updateActionResult
	Path    string              `json:",omitempty"` // downloadFile
	Perm    uint32              `json:",omitempty"` // downloadFile
}

// inline is the request's Inline, the zero one if not set.
func (r *request) inline() remote.Inline {
	if r.Inline == nil {
		return remote.Inline{}
	}
	return *r.Inline
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
	// Protocol is the other side's protocolVersion (0 before versions).
	Protocol             int `json:",omitempty"`
	Target               string
	CanExecute           bool
	CanUpdateActionCache bool
}

// protocolVersion names the protocol's requests and their meaning; bld
// refuses a bld-remote of another version (one installed beside an older
// or newer bld), which would answer requests it reads differently: a
// version 1 bld-remote ignores updateActionResult's Blobs and would store
// results whose blobs it never uploaded. Bump it whenever a request's
// fields or meaning change.
//
// Versions: 1 (implicit: no Protocol in capabilities), the first; 2,
// remote.Inline and updateActionResult's Blobs.
const protocolVersion = 2

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

// A frameWriter writes the frames of concurrent senders to w, coalesced:
// a sender that finds another one writing queues its frame and returns,
// and the writer writes whatever was queued meanwhile, in one Write, before
// it returns. So calls made at once (bld checks 32 actions against a
// remote cache at a time) cost one system call and one wake-up of the
// other side between them, not one each, and none waits behind another's
// write but the writer.
//
// A queued frame's sender does not learn whether its frame was written: a
// write that fails means the other side is gone (which its reader sees)
// or the pipe was closed; either way what is queued is dropped.
type frameWriter struct {
	mu      sync.Mutex
	queued  []byte // frames waiting for the writer
	spare   []byte // the writer's last buffer, for reuse; never queued's array
	writing bool   // a sender is writing (and will write what is queued)
	err     error  // the first write error (or errClosed): later sends fail with it

	w io.Writer // written by one sender at a time (writing)
}

// maxSpare bounds the buffer a frameWriter keeps between writes.
const maxSpare = 1 << 20

var errClosed = errors.New("the pipe is closed")

func newFrameWriter(w io.Writer) *frameWriter { return &frameWriter{w: w} }

// send writes v as a frame, or queues it for the sender writing now.
func (fw *frameWriter) send(v any) error {
	body, err := json.Marshal(v) // outside the lock: senders encode in parallel
	if err != nil {
		return err
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.err != nil {
		return fw.err
	}
	fw.queued = binary.BigEndian.AppendUint32(fw.queued, uint32(len(body)))
	fw.queued = append(fw.queued, body...)
	if fw.writing {
		return nil
	}
	fw.writing = true
	for len(fw.queued) > 0 && fw.err == nil {
		// b is the writer's alone until it is spare again: senders
		// append to the other buffer meanwhile.
		b := fw.queued
		fw.queued, fw.spare = fw.spare[:0], nil
		fw.mu.Unlock()
		_, err := fw.w.Write(b)
		fw.mu.Lock()
		if cap(b) <= maxSpare {
			fw.spare = b[:0]
		}
		if err != nil && fw.err == nil {
			fw.err = err
		}
	}
	if fw.err != nil {
		fw.queued = nil
	}
	fw.writing = false
	return fw.err
}

// close fails later sends and closes w, which fails a Write under way (to
// a helper that stopped reading: close does not wait for it).
func (fw *frameWriter) close(w io.Closer) error {
	fw.mu.Lock()
	if fw.err == nil {
		fw.err = errClosed
	}
	fw.queued = nil
	fw.mu.Unlock()
	return w.Close()
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
