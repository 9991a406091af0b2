package executor

import (
	"context"
	"os/exec"
)

// NewSemaphore returns a TokenPool of n tokens (at least 1) that serves no
// jobserver: for tests, and for programs that run the executor without one
// (bld itself uses package jobserver's pool). Its AttachJobserver gives the command nothing and
// returns a no-op detach: actions that could use a jobserver simply run with
// the one token they hold.
func NewSemaphore(n int) TokenPool {
	if n < 1 {
		n = 1
	}
	return &semaphore{ch: make(chan struct{}, n)}
}

type semaphore struct{ ch chan struct{} }

func (s *semaphore) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *semaphore) Release() {
	select {
	case <-s.ch:
	default:
		panic("executor: semaphore released more tokens than were acquired")
	}
}

func (s *semaphore) AttachJobserver(*exec.Cmd, []string, string) (func(), error) {
	return func() {}, nil
}
