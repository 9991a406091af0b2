package grpcclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"bld/exec/remote"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// retryPolicy bounds the retries of transient failures.
type retryPolicy struct {
	tries int           // attempts in all, at least 1
	base  time.Duration // delay before the second attempt
	max   time.Duration // cap on one delay
}

var defaultRetry = retryPolicy{tries: 5, base: 100 * time.Millisecond, max: 5 * time.Second}

// delay returns the pause after failed attempt n (1-based): base·2^(n-1),
// capped at max, with ±20% jitter so that many clients do not retry in step.
func (p retryPolicy) delay(n int) time.Duration {
	d := p.base
	for i := 1; i < n && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// retryable reports whether err is a transient failure worth another try.
// DEADLINE_EXCEEDED is transient only while the caller's ctx is live (the
// deadline that passed was the per-RPC one, not the caller's).
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	switch statusCode(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded:
		return true
	}
	return false
}

// call runs f until it succeeds, fails for good, ctx ends, or the policy's
// tries are used up (then the error wraps ErrUnavailable). what names the
// RPC in errors, which also name the target.
func (c *Client) call(ctx context.Context, what string, f func(ctx context.Context) error) error {
	var err error
	for n := 1; ; n++ {
		err = f(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("remote %s: %s: %w", c.target, what, ctxErr(ctx, err))
		}
		if !retryable(ctx, err) {
			return fmt.Errorf("remote %s: %s: %w", c.target, what, err)
		}
		if n >= c.retry.tries {
			return fmt.Errorf("remote %s: %s: %w (gave up after %d tries): %w", c.target, what, remote.ErrUnavailable, n, err)
		}
		c.stats.retries.Add(1)
		t := time.NewTimer(c.retry.delay(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("remote %s: %s: %w", c.target, what, ctxErr(ctx, err))
		case <-t.C:
		}
	}
}

// ctxErr returns the error to report when ctx ended during a call that
// failed with err: ctx's cause, wrapping err's message for context.
func ctxErr(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if cause == nil {
		return err
	}
	if err == nil || errors.Is(err, cause) {
		return cause
	}
	return fmt.Errorf("%w (last error: %v)", cause, err)
}

// rpcCtx returns the context for one unary RPC attempt: ctx bounded by the
// client's timeout.
func (c *Client) rpcCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// errIdle is the cause of a stream's cancellation by its idle timer.
var errIdle = errors.New("stream idle")

// idleStream watches a stream: the returned context is cancelled when
// kick has not been called for d. Call kick after each message, stop when
// done with the stream. idleErr converts an error from the stream into a
// DEADLINE_EXCEEDED status (retryable) when the idle timer caused it.
type idleStream struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	d      time.Duration
}

func newIdleStream(ctx context.Context, d time.Duration) *idleStream {
	s := &idleStream{d: d}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.timer = time.AfterFunc(d, func() { s.cancel(errIdle) })
	return s
}

func (s *idleStream) kick() { s.timer.Reset(s.d) }

func (s *idleStream) stop() {
	s.timer.Stop()
	s.cancel(context.Canceled)
}

func (s *idleStream) err(err error) error {
	if err != nil && errors.Is(context.Cause(s.ctx), errIdle) {
		return status.Errorf(codes.DeadlineExceeded, "no message from the server for %s", s.d)
	}
	return err
}
