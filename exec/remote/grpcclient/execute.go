package grpcclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"bld/exec/digest"
	"bld/exec/reapi"
	"bld/exec/remote"

	lpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	gstatus "google.golang.org/grpc/status"
)

// Execute runs the action with digest action remotely; its Command, input
// root and every input must be in the CAS already. With skipCacheLookup
// the server runs it even if the action cache has a result.
//
// It follows the operation's stream until it is done. When the stream
// breaks (an error, an end before done, or no message for the client's
// timeout), it reconnects with WaitExecution; when the server no longer
// knows the operation (NOT_FOUND) it calls Execute again. Transient
// failures are retried with backoff, at most the retry policy's tries in a
// row without a message from the server.
//
// It returns the ExecuteResponse when done; a command that ran and exited
// non-zero is not an error (see Result.ExitCode). When the response's status is
// not OK, it returns the response and an *ActionError; when the server
// lacks inputs (FAILED_PRECONDITION with MISSING violations) the error is
// a *MissingBlobsError naming them, so that the caller can upload them and
// call again. Other failures (a platform no worker matches, an invalid
// action) are errors with the server's words.
func (c *Client) Execute(ctx context.Context, action digest.Digest, skipCacheLookup bool) (*reapi.ExecuteResponse, error) {
	return c.ExecuteNotify(ctx, action, skipCacheLookup, remote.Inline{}, nil)
}

// ExecuteNotify is Execute, with the contents inline asks for in the
// response's result (remote.Inline), calling started (if not nil) once,
// when the service says that the action left its queue: it is executing,
// or done.
func (c *Client) ExecuteNotify(ctx context.Context, action digest.Digest, skipCacheLookup bool, inline remote.Inline, started func()) (*reapi.ExecuteResponse, error) {
	what := "Execute " + action.Short()
	var opName string
	failures := 0
	queue := &queueWatch{limit: c.queueWait, since: time.Now(), onStart: started}
	for {
		progressed := false
		op, err := c.executeOnce(ctx, action, skipCacheLookup, &opName, &progressed, queue)
		if err == nil {
			var resp *reapi.ExecuteResponse
			var transient bool
			resp, err, transient = c.finish(action, op)
			if !transient {
				if err == nil && resp.Result != nil {
					if resp.Result.ExitCode != 0 {
						inline.Files = nil // what it printed says why; its files are not used
					}
					c.inline(ctx, resp.Result, inline)
				}
				return resp, err
			}
			// The operation failed for a transient reason: run it again.
			opName = ""
			progressed = false // an answer that is a failure is no progress
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("remote %s: %s: %w", c.target, what, ctxErr(ctx, err))
		}
		if opName != "" && statusCode(err) == codes.NotFound {
			// WaitExecution: the server forgot the operation.
			opName = ""
			err = gstatus.Errorf(codes.Unavailable, "operation lost: %v", err)
		}
		if m := missingBlobs(err); m != nil {
			return nil, m
		}
		if errors.Is(err, remote.ErrQueueTimeout) {
			return nil, fmt.Errorf("remote %s: %s: %w (queued for %v)", c.target, what, err, c.queueWait)
		}
		if noWorker(err) {
			return nil, fmt.Errorf("remote %s: %s: %w: %w", c.target, what, remote.ErrNoWorker, err)
		}
		if !retryable(ctx, err) {
			return nil, fmt.Errorf("remote %s: %s: %w", c.target, what, err)
		}
		if progressed {
			failures = 0
		}
		failures++
		if failures >= c.retry.tries {
			return nil, fmt.Errorf("remote %s: %s: %w (gave up after %d tries): %w", c.target, what, remote.ErrUnavailable, failures, err)
		}
		c.stats.retries.Add(1)
		t := time.NewTimer(c.retry.delay(failures))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("remote %s: %s: %w", c.target, what, ctxErr(ctx, err))
		case <-t.C:
		}
	}
}

// executeOnce calls Execute (or WaitExecution when *opName is set) and
// follows the stream until the operation is done, recording its name and
// whether any message came.
func (c *Client) executeOnce(ctx context.Context, action digest.Digest, skip bool, opName *string, progressed *bool, queue *queueWatch) (*lpb.Operation, error) {
	qctx, stopWatch := queue.watch(ctx)
	defer stopWatch()
	is := newIdleStream(qctx, c.timeout)
	defer is.stop()
	var stream interface {
		Recv() (*lpb.Operation, error)
	}
	var err error
	if *opName == "" {
		stream, err = c.exec.Execute(is.ctx, &repb.ExecuteRequest{
			InstanceName:    c.instance,
			ActionDigest:    digestToProto(action),
			SkipCacheLookup: skip,
		})
	} else {
		c.stats.waitExecns.Add(1)
		stream, err = c.exec.WaitExecution(is.ctx, &repb.WaitExecutionRequest{Name: *opName})
	}
	if err != nil {
		return nil, queue.err(qctx, is.err(err))
	}
	for {
		op, err := stream.Recv()
		if err == io.EOF {
			return nil, gstatus.Error(codes.Unavailable, "the operation stream ended before the operation was done")
		}
		if err != nil {
			return nil, queue.err(qctx, is.err(err))
		}
		is.kick()
		queue.saw(op)
		*progressed = true
		if op.GetName() != "" {
			*opName = op.GetName()
		}
		if op.GetDone() {
			return op, nil
		}
	}
}

// finish turns a done operation into Execute's answer; transient reports
// an operation failure worth running again.
func (c *Client) finish(action digest.Digest, op *lpb.Operation) (resp *reapi.ExecuteResponse, err error, transient bool) {
	if e := op.GetError(); e != nil {
		st := gstatus.FromProto(e)
		if m := missingBlobs(st.Err()); m != nil {
			return nil, m, false
		}
		switch st.Code() {
		case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
			return nil, st.Err(), true
		}
		return nil, fmt.Errorf("remote %s: Execute %s: operation %s failed: %w", c.target, action.Short(), op.GetName(), st.Err()), false
	}
	payload := op.GetResponse()
	if payload == nil {
		return nil, fmt.Errorf("remote %s: Execute %s: operation %s done without a response", c.target, action.Short(), op.GetName()), false
	}
	// The generated message for the status's details (missing blobs),
	// bld's for the rest: both decode the payload.
	pb := &repb.ExecuteResponse{}
	if err := payload.UnmarshalTo(pb); err != nil {
		return nil, fmt.Errorf("remote %s: Execute %s: operation %s: response is not an ExecuteResponse: %w", c.target, action.Short(), op.GetName(), err), false
	}
	resp, err = reapi.UnmarshalExecuteResponse(payload.GetValue())
	if err != nil {
		return nil, fmt.Errorf("remote %s: Execute %s: operation %s: %w", c.target, action.Short(), op.GetName(), err), false
	}
	c.stats.executions.Add(1)
	if resp.CachedResult {
		c.stats.execHits.Add(1)
	}
	if s := pb.GetStatus(); s.GetCode() != int32(codes.OK) {
		st := gstatus.FromProto(s)
		if m := missingBlobs(st.Err()); m != nil {
			return resp, m, false
		}
		msg := st.Message()
		if resp.Message != "" && !strings.Contains(msg, resp.Message) {
			msg += " (" + resp.Message + ")"
		}
		return resp, &remote.ActionError{Action: action, Code: remote.Code(st.Code()), Message: msg, Response: resp}, false
	}
	if resp.Result == nil {
		return resp, fmt.Errorf("remote %s: Execute %s: the response has no result", c.target, action.Short()), false
	}
	return resp, nil, false
}

// missingBlobs returns a *MissingBlobsError when err is FAILED_PRECONDITION
// with MISSING violations naming blobs, else nil.
func missingBlobs(err error) *remote.MissingBlobsError {
	if statusCode(err) != codes.FailedPrecondition {
		return nil
	}
	var se interface{ GRPCStatus() *gstatus.Status }
	if !errors.As(err, &se) {
		return nil
	}
	st := se.GRPCStatus()
	var ds []digest.Digest
	for _, det := range st.Details() {
		pf, ok := det.(*errdetails.PreconditionFailure)
		if !ok {
			continue
		}
		for _, v := range pf.GetViolations() {
			if v.GetType() != "MISSING" {
				continue
			}
			s := v.GetSubject()
			if i := strings.Index(s, "blobs/"); i >= 0 {
				s = s[i+len("blobs/"):]
			}
			if d, err := digest.Parse(s); err == nil {
				ds = append(ds, d)
			}
		}
	}
	if len(ds) == 0 {
		return nil
	}
	return &remote.MissingBlobsError{Digests: ds, Message: st.Message()}
}

// noWorker reports whether err says that no worker matches the action's
// platform. Buildbarn says so with UNAVAILABLE ("No workers exist for
// instance name ... and platform ..."), which is otherwise retried: this
// answer will not change by waiting.
func noWorker(err error) bool {
	switch statusCode(err) {
	case codes.Unavailable, codes.FailedPrecondition:
	default:
		return false
	}
	st, ok := gstatus.FromError(err)
	return ok && strings.Contains(strings.ToLower(st.Message()), "no workers exist")
}

// queueWatch bounds how long an Execute may stay QUEUED (its limit; 0 is
// no bound), from since, across reconnections: once a message says the
// action is executing (or done), the bound no longer applies.
type queueWatch struct {
	limit   time.Duration
	since   time.Time
	onStart func() // called once when the action leaves the queue

	mu      sync.Mutex
	started bool
	timer   *time.Timer
}

// watch returns a context that ends with cause ErrQueueTimeout when the
// bound passes while the action is still queued, and a stop function.
func (q *queueWatch) watch(ctx context.Context) (context.Context, func()) {
	if q.limit <= 0 {
		return ctx, func() {}
	}
	qctx, cancel := context.WithCancelCause(ctx)
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.started {
		q.timer = time.AfterFunc(q.limit-time.Since(q.since), func() { cancel(remote.ErrQueueTimeout) })
	}
	return qctx, func() {
		q.mu.Lock()
		if q.timer != nil {
			q.timer.Stop()
		}
		q.mu.Unlock()
		cancel(nil)
	}
}

// saw notes op's stage: anything past QUEUED ends the bound, and is
// told to onStart once.
func (q *queueWatch) saw(op *lpb.Operation) {
	if q.limit <= 0 && q.onStart == nil {
		return
	}
	stage := repb.ExecutionStage_UNKNOWN
	md := &repb.ExecuteOperationMetadata{}
	if op.GetMetadata() != nil && op.GetMetadata().UnmarshalTo(md) == nil {
		stage = md.GetStage()
	}
	if stage != repb.ExecutionStage_EXECUTING && stage != repb.ExecutionStage_COMPLETED && !op.GetDone() {
		return
	}
	q.mu.Lock()
	first := !q.started
	q.started = true
	if q.timer != nil {
		q.timer.Stop()
	}
	q.mu.Unlock()
	if first && q.onStart != nil {
		q.onStart()
	}
}

// err returns ErrQueueTimeout when the bound ended the stream, else err.
func (q *queueWatch) err(qctx context.Context, err error) error {
	if errors.Is(context.Cause(qctx), remote.ErrQueueTimeout) {
		return remote.ErrQueueTimeout
	}
	return err
}
