package pipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"bld/exec/crash"
	"bld/exec/remote"
)

// A Dialer connects to the service cfg names (grpcclient.Dial).
type Dialer func(ctx context.Context, cfg remote.Config) (remote.Service, error)

// Serve answers the requests read from r, writing the answers to w, with
// the service dial returns for the first request, until r ends or ctx is
// cancelled; then it cancels the calls under way, waits for them, closes
// the service and returns nil (or why r broke). Requests run concurrently.
// unavailable classifies the service's errors for the other side's
// remote.IsUnavailable (grpcclient.IsUnavailable, which reads gRPC codes).
func Serve(ctx context.Context, r io.Reader, w io.Writer, dial Dialer, unavailable func(error) bool) error {
	s := &server{out: newFrameWriter(w), dial: dial, unavailable: unavailable, calls: map[uint64]context.CancelFunc{}, idle: make(chan func())}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var err error
	for {
		var req request
		if err = readFrame(r, &req); err != nil {
			break
		}
		if req.Op == opCancel {
			s.mu.Lock()
			if stop := s.calls[req.ID]; stop != nil {
				stop()
			}
			s.mu.Unlock()
			continue
		}
		callCtx, stop := context.WithCancel(ctx)
		s.mu.Lock()
		s.calls[req.ID] = stop
		s.mu.Unlock()
		s.wg.Add(1)
		s.run(func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.calls, req.ID)
				s.mu.Unlock()
				stop()
			}()
			s.answer(callCtx, req)
		})
	}
	cancel()
	s.wg.Wait()
	close(s.idle)
	if s.svc != nil {
		s.svc.Close()
	}
	if err == io.EOF {
		return nil
	}
	return fmt.Errorf("reading requests: %w", err)
}

// server is Serve's state.
type server struct {
	dial        Dialer
	unavailable func(error) bool

	out *frameWriter

	mu    sync.Mutex
	calls map[uint64]context.CancelFunc // by request ID, until answered
	svc   remote.Service                // once dialled

	wg   sync.WaitGroup
	idle chan func() // to the workers waiting for a request (run)
}

// run runs f on an idle worker goroutine, or on a new one if none is
// idle. Workers are kept until Serve ends: a gRPC call grows a goroutine's
// stack to tens of KiB, and a new goroutine per request paid for that
// growth (runtime.newstack) on every request, ~4% of a remote cache
// restore's CPU.
func (s *server) run(f func()) {
	select {
	case s.idle <- f:
	default:
		crash.Go(func() {
			for ; f != nil; f = <-s.idle {
				f()
			}
		})
	}
}

// send writes one frame; a failure to write means bld is gone, and Serve
// ends when its input does.
func (s *server) send(resp response) { s.out.send(resp) }

// service returns the dialled service, or nil before dial.
func (s *server) service() remote.Service {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.svc
}

// answer runs req and sends its final frame (and progress frames before).
func (s *server) answer(ctx context.Context, req request) {
	resp := response{ID: req.ID, Final: true}
	var err error
	svc := s.service()
	switch {
	case req.Op == opDial:
		err = s.dialOnce(ctx, req, &resp)
	case svc == nil:
		err = errors.New("the remote service is not dialled")
	default:
		err = s.call(ctx, svc, req, &resp)
	}
	resp.Err = toWire(err, s.unavailable)
	s.send(resp)
}

// dialOnce dials the service of req; a second dial is an error.
func (s *server) dialOnce(ctx context.Context, req request, resp *response) error {
	if req.Config == nil {
		return errors.New("dial without a configuration")
	}
	if s.service() != nil {
		return errors.New("the remote service is dialled already")
	}
	svc, err := s.dial(ctx, *req.Config)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.svc = svc
	s.mu.Unlock()
	resp.Caps = &capabilities{Protocol: protocolVersion, Target: svc.Target(), CanExecute: svc.CanExecute(), CanUpdateActionCache: svc.CanUpdateActionCache()}
	return nil
}

// call runs the operation of req on svc, filling resp.
func (s *server) call(ctx context.Context, svc remote.Service, req request, resp *response) (err error) {
	switch req.Op {
	case opGetActionResult:
		resp.Result, err = svc.GetActionResult(ctx, req.Digest, req.inline())
	case opUpdateActionResult:
		err = svc.UpdateActionResult(ctx, req.Digest, req.Result, req.Blobs)
	case opWriteOutput:
		w := &chunkWriter{send: func(b []byte) { s.send(response{ID: req.ID, Chunk: b}) }}
		if err = svc.WriteOutput(ctx, req.Result, w); err == nil {
			w.flush()
		}
	case opFindMissing:
		resp.Digests, err = svc.FindMissing(ctx, req.Digests)
	case opUpload:
		resp.Sent, err = svc.Upload(ctx, req.Blobs)
	case opReadBlob:
		resp.Data, err = svc.ReadBlob(ctx, req.Digest)
	case opDownloadFile:
		err = svc.DownloadFile(ctx, req.Digest, req.Path, os.FileMode(req.Perm))
	case opExecute:
		started := func() { s.send(response{ID: req.ID, Started: true}) }
		resp.Response, err = svc.ExecuteNotify(ctx, req.Digest, req.Flag, req.inline(), started)
	case opStats:
		st := svc.Stats()
		resp.Stats = &st
	default:
		err = fmt.Errorf("unknown operation %q", req.Op)
	}
	return err
}

// InProcess serves the service dial returns in this process, through a
// pair of pipes, and returns a client of it: bld's and bld-remote's code
// path without a second program (for tests of what uses a Service).
// Closing the client ends the serving goroutine.
func InProcess(ctx context.Context, cfg remote.Config, dial Dialer, unavailable func(error) bool) (*Client, error) {
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	crash.Go(func() {
		Serve(context.Background(), toServer, fromServer, dial, unavailable)
		fromServer.Close()
	})
	return Connect(ctx, fromClient, toClient, cfg)
}

// A chunkWriter sends what is written to it in chunks of chunkSize.
type chunkWriter struct {
	send func([]byte)
	buf  []byte
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), chunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == chunkSize {
			w.flush()
		}
	}
	return n, nil
}

// flush sends what is buffered.
func (w *chunkWriter) flush() {
	if len(w.buf) > 0 {
		w.send(w.buf)
		w.buf = nil
	}
}
