package pipe

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"bld/exec/crash"
	"bld/exec/digest"
	"bld/exec/reapi"
	"bld/exec/remote"
)

// Client is a remote.Service served by another process (bld-remote) over
// a pipe. It is safe for concurrent use. A cancelled call returns once the
// other process has answered the cancellation (so a file DownloadFile
// writes is not written after the call returned), or after cancelGrace if
// it does not: no wait of bld's is left unbounded by a stuck helper.
type Client struct {
	caps   capabilities
	failed atomic.Bool
	grace  time.Duration // cancelGrace, shorter in tests

	cmd    *exec.Cmd // nil when not a process (Connect)
	stderr *headBuffer

	w   io.WriteCloser
	out *frameWriter // frames to w

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]*pendingCall
	broken  error         // set when the other side is gone: every call fails with it
	done    chan struct{} // closed when the reader ends
}

// cancelGrace bounds how long a cancelled call, Stats and Close wait for
// the other process.
const cancelGrace = 5 * time.Second

// A pendingCall is a call waiting for its frames.
type pendingCall struct {
	frames chan response
	left   chan struct{} // closed when the caller stopped waiting
}

// Start starts program (bld-remote) with the arguments args, dials the
// service cfg names through it and returns the client. The program runs
// in its own process group (a Ctrl-C at the terminal reaches bld, which
// cancels its calls, not the program), and is killed if bld dies; Close
// ends it.
func Start(ctx context.Context, program string, args []string, cfg remote.Config) (*Client, error) {
	cmd := exec.Command(program, args...)
	cmd.SysProcAttr = helperAttrs()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	head := &headBuffer{max: 16 << 10}
	cmd.Stderr = head
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", program, err)
	}
	c := newClient(stdin, stdout)
	c.cmd, c.stderr = cmd, head
	if err := c.dial(ctx, cfg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Connect dials the service cfg names through a Serve reading w and
// writing r (in tests, both in one process). Close closes w.
func Connect(ctx context.Context, w io.WriteCloser, r io.Reader, cfg remote.Config) (*Client, error) {
	c := newClient(w, r)
	if err := c.dial(ctx, cfg); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func newClient(w io.WriteCloser, r io.Reader) *Client {
	c := &Client{w: w, out: newFrameWriter(w), grace: cancelGrace, pending: map[uint64]*pendingCall{}, done: make(chan struct{})}
	// Buffered: a frame is a length and a body, one read for both.
	crash.Go(func() { c.read(bufio.NewReaderSize(r, 64<<10)) })
	return c
}

// read dispatches the frames of r to the calls waiting for them, until r
// ends; then every call fails.
func (c *Client) read(r io.Reader) {
	defer close(c.done)
	var err error
	for {
		var resp response
		if err = readFrame(r, &resp); err != nil {
			break
		}
		c.mu.Lock()
		p := c.pending[resp.ID]
		if resp.Final {
			delete(c.pending, resp.ID)
		}
		c.mu.Unlock()
		if p != nil {
			select {
			case p.frames <- resp:
			case <-p.left: // a late answer to a call given up on
			}
		}
	}
	if c.cmd != nil {
		if err != io.EOF {
			c.cmd.Process.Kill() // a broken stream: the process may still run
		}
		c.cmd.Wait()
	}
	broken := c.gone(err)
	c.mu.Lock()
	c.broken = broken
	waiting := c.pending
	c.pending = map[uint64]*pendingCall{}
	c.mu.Unlock()
	for id, p := range waiting { // outside the lock: a caller giving up takes it
		select {
		case p.frames <- response{ID: id, Final: true, Err: toWire(broken, nil)}:
		case <-p.left:
		}
	}
}

// helperName names the other side in messages: its program, if a process.
func (c *Client) helperName() string {
	if c.cmd != nil {
		return c.cmd.Path
	}
	return "the remote services' helper"
}

// gone is the error of calls once the other side has ended (read's err).
func (c *Client) gone(err error) error {
	what := c.helperName()
	if c.cmd != nil && c.cmd.ProcessState != nil {
		what += " (" + c.cmd.ProcessState.String() + ")"
	}
	msg := fmt.Sprintf("%s ended", what)
	if err != nil && err != io.EOF {
		msg += ": " + err.Error()
	}
	if c.stderr != nil {
		if s := bytes.TrimSpace(c.stderr.Bytes()); len(s) > 0 {
			msg += "; it said: " + string(s)
		}
	}
	return fmt.Errorf("%s: %w", msg, remote.ErrUnavailable)
}

// call sends req and waits for its final response, passing progress
// frames to progress (if not nil). When ctx ends first, it asks the other
// side to cancel and waits for the answer, at most cancelGrace; then it
// returns ctx's cause.
func (c *Client) call(ctx context.Context, req request, progress func(response)) (response, error) {
	p := &pendingCall{frames: make(chan response, 16), left: make(chan struct{})}
	c.mu.Lock()
	if c.broken != nil {
		err := c.broken
		c.mu.Unlock()
		return response{}, err
	}
	c.nextID++
	req.ID = c.nextID
	c.pending[req.ID] = p
	c.mu.Unlock()
	giveUp := func() {
		c.mu.Lock()
		delete(c.pending, req.ID)
		c.mu.Unlock()
		close(p.left)
	}
	if err := c.send(req); err != nil {
		giveUp()
		// The other side is gone, most likely: say why, as read does
		// once it has seen the end.
		select {
		case <-c.done:
			c.mu.Lock()
			defer c.mu.Unlock()
			return response{}, c.broken
		case <-time.After(c.grace):
			return response{}, fmt.Errorf("calling the remote services' helper: %v: %w", err, remote.ErrUnavailable)
		}
	}
	cancelled := ctx.Done()
	var grace <-chan time.Time
	for {
		var resp response
		select {
		case resp = <-p.frames:
		case <-cancelled:
			cancelled = nil
			grace = time.After(c.grace)
			c.send(request{ID: req.ID, Op: opCancel}) // a broken pipe answers through read
			continue
		case <-grace:
			giveUp()
			return response{}, fmt.Errorf("remote %s: %s: %w", c.caps.Target, req.Op, context.Cause(ctx))
		}
		if !resp.Final {
			if progress != nil {
				progress(resp)
			}
			continue
		}
		if grace != nil && resp.Err != nil {
			// The other side's error says "context canceled" in its
			// words; the caller's ctx says why.
			return resp, fmt.Errorf("remote %s: %s: %w", c.caps.Target, req.Op, context.Cause(ctx))
		}
		return resp, fromWire(resp.Err)
	}
}

// send writes one frame (or leaves it to the sender writing now).
func (c *Client) send(req request) error { return c.out.send(req) }

func (c *Client) dial(ctx context.Context, cfg remote.Config) error {
	resp, err := c.call(ctx, request{Op: opDial, Config: &cfg}, nil)
	if err != nil {
		return err
	}
	if resp.Caps == nil {
		return fmt.Errorf("the remote services' helper answered dial without capabilities")
	}
	if resp.Caps.Protocol != protocolVersion {
		return fmt.Errorf("%s speaks version %d of bld's protocol, this bld version %d: it is another bld's (install both from one source: go install ./cmd/bld/...): %w",
			c.helperName(), resp.Caps.Protocol, protocolVersion, remote.ErrUnavailable)
	}
	c.caps = *resp.Caps
	return nil
}

// Close ends the other process (its input closes) and waits for it, at
// most cancelGrace before killing it.
func (c *Client) Close() error {
	err := c.out.close(c.w)
	select {
	case <-c.done:
	case <-time.After(c.grace):
		if c.cmd != nil {
			c.cmd.Process.Kill()
		}
		<-c.done
	}
	return err
}

func (c *Client) Target() string             { return c.caps.Target }
func (c *Client) CanExecute() bool           { return c.caps.CanExecute }
func (c *Client) CanUpdateActionCache() bool { return c.caps.CanUpdateActionCache }
func (c *Client) MarkFailed() bool           { return c.failed.CompareAndSwap(false, true) }
func (c *Client) Failed() bool               { return c.failed.Load() }

func (c *Client) GetActionResult(ctx context.Context, action digest.Digest, inline remote.Inline) (*reapi.ActionResult, error) {
	resp, err := c.call(ctx, request{Op: opGetActionResult, Digest: action, Inline: &inline}, nil)
	if err != nil {
		return nil, err
	}
	if resp.Result == nil {
		return &reapi.ActionResult{}, nil
	}
	return resp.Result, nil
}

func (c *Client) UpdateActionResult(ctx context.Context, action digest.Digest, r *reapi.ActionResult, blobs []remote.Blob) error {
	_, err := c.call(ctx, request{Op: opUpdateActionResult, Digest: action, Result: r, Blobs: blobs}, nil)
	return err
}

func (c *Client) WriteOutput(ctx context.Context, r *reapi.ActionResult, w io.Writer) error {
	if r == nil {
		return nil
	}
	if remote.OutputInlined(r) { // no round trip for what r holds
		if _, err := w.Write(r.StdoutRaw); err != nil {
			return err
		}
		_, err := w.Write(r.StderrRaw)
		return err
	}
	var werr error
	_, err := c.call(ctx, request{Op: opWriteOutput, Result: r}, func(resp response) {
		if werr == nil {
			_, werr = w.Write(resp.Chunk)
		}
	})
	if err == nil {
		err = werr
	}
	return err
}

func (c *Client) FindMissing(ctx context.Context, ds []digest.Digest) ([]digest.Digest, error) {
	resp, err := c.call(ctx, request{Op: opFindMissing, Digests: ds}, nil)
	return resp.Digests, err
}

func (c *Client) Upload(ctx context.Context, blobs []remote.Blob) (int64, error) {
	resp, err := c.call(ctx, request{Op: opUpload, Blobs: blobs}, nil)
	return resp.Sent, err
}

func (c *Client) ReadBlob(ctx context.Context, d digest.Digest) ([]byte, error) {
	resp, err := c.call(ctx, request{Op: opReadBlob, Digest: d}, nil)
	if err != nil {
		return nil, err
	}
	if resp.Data == nil {
		return []byte{}, nil
	}
	return resp.Data, nil
}

func (c *Client) DownloadFile(ctx context.Context, d digest.Digest, path string, perm os.FileMode) error {
	_, err := c.call(ctx, request{Op: opDownloadFile, Digest: d, Path: path, Perm: uint32(perm)}, nil)
	return err
}

func (c *Client) ExecuteNotify(ctx context.Context, action digest.Digest, skipCacheLookup bool, inline remote.Inline, started func()) (*reapi.ExecuteResponse, error) {
	resp, err := c.call(ctx, request{Op: opExecute, Digest: action, Flag: skipCacheLookup, Inline: &inline}, func(resp response) {
		if resp.Started && started != nil {
			started()
			started = nil
		}
	})
	return resp.Response, err
}

// Stats asks the other side for its counters; zero if it cannot answer
// within cancelGrace.
func (c *Client) Stats() remote.Stats {
	ctx, cancel := context.WithTimeout(context.Background(), c.grace)
	defer cancel()
	resp, err := c.call(ctx, request{Op: opStats}, nil)
	if err != nil || resp.Stats == nil {
		return remote.Stats{}
	}
	return *resp.Stats
}

// A headBuffer keeps the first max bytes written to it: a program's
// complaint is at its start; a flood after it is dropped.
type headBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

func (t *headBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - t.b.Len(); room > 0 {
		t.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (t *headBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.b.Bytes())
}

var _ remote.Service = (*Client)(nil)
