// Package crash is the one home of what bld does when it panics: a panic
// is a bug of bld, reported with its stack and exit status 37 (Bazel's
// code for an internal error), never Go's own report and exit status 2.
//
// The command's goroutine recovers through Report (cmd/bld's run). Every
// other goroutine bld starts is started by Go, which recovers a panic in
// it, reports it the same way and ends the process: a panic there cannot
// be returned to anyone. TestEveryGoroutineRecovers (in this package)
// checks that bld starts no goroutine with a bare go statement.
package crash

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"
)

// ExitCode is bld's exit status after a panic: an internal error.
const ExitCode = 37

// Report writes the report of a panic with value p, and the stack of the
// goroutine that panicked, to w.
func Report(w io.Writer, p any, stack []byte) {
	fmt.Fprintf(w, "\nbld: internal error: %v\n%s\nThis is a bug in bld; please report it with the output above.\n", p, stack)
}

// Go runs f in a new goroutine. If f panics, the panic is reported on
// standard error (Report) and the process exits with ExitCode at once:
// deferred functions of other goroutines do not run, so commands that
// actions started may outlive bld (the next build kills them, as after a
// kill -9).
func Go(f func()) {
	go func() {
		defer recoverAndExit(os.Stderr, os.Exit)
		f()
	}()
}

// recoverAndExit reports a panic of the calling goroutine to w and calls
// exit with ExitCode.
func recoverAndExit(w io.Writer, exit func(int)) {
	if p := recover(); p != nil {
		Report(w, p, debug.Stack())
		exit(ExitCode)
	}
}

// Every calls f every interval, from a goroutine started by Go, until the
// function it returns is called; that function returns once f has
// returned for the last time, so that nothing f does outlives it.
func Every(interval time.Duration, f func()) (stop func()) {
	return EveryUntil(interval, func() bool { f(); return true })
}

// EveryUntil is Every for an f that may end the calls itself: f is not
// called again once it returns false. stop may be called after that, and
// more than once.
func EveryUntil(interval time.Duration, f func() (again bool)) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	Go(func() {
		defer close(finished)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if !f() {
					return
				}
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}
