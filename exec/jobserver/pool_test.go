package jobserver

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewServerFillsPool(t *testing.T) {
	for _, n := range []int{1, 2, 8} {
		p, err := NewServer(n, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if s := p.Stats(); s.Total != n || s.InPipe != n-1 || !s.ImplicitFree {
			t.Errorf("NewServer(%d): %+v", n, s)
		}
		p.Close()
	}
	if _, err := NewServer(0, t.TempDir()); err == nil {
		t.Error("NewServer(0) should fail")
	}
}

// The implicit token comes first and without a byte; then bytes.
func TestAcquireOrder(t *testing.T) {
	p, err := NewServer(3, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	p.Acquire(ctx)
	if s := p.Stats(); s.ImplicitFree || s.InPipe != 2 || s.Held != 0 {
		t.Errorf("after 1 Acquire: %+v", s)
	}
	p.Acquire(ctx)
	p.Acquire(ctx)
	if s := p.Stats(); s.InPipe != 0 || s.Held != 2 {
		t.Errorf("after 3 Acquire: %+v", s)
	}
	p.Release()
	p.Release()
	p.Release()
	checkAtRest(t, p)
}

// Cancelled Acquire calls return ctx.Err, hold nothing and leave no
// goroutine behind.
func TestAcquireCancel(t *testing.T) {
	p, err := NewServer(2, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	p.Acquire(ctx)
	p.Acquire(ctx)
	before := runtime.NumGoroutine()
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	errs := runAll(10, func(int) error { return p.Acquire(cctx) })
	for _, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Acquire = %v, want deadline exceeded", err)
		}
	}
	after := runtime.NumGoroutine()
	for i := 0; i < 100 && after > before; i++ { // exiting goroutines
		time.Sleep(10 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before {
		t.Errorf("%d goroutines before, %d after", before, after)
	}
	p.Release()
	p.Release()
	checkAtRest(t, p)
	if err := p.Acquire(cctx); err == nil {
		t.Error("Acquire with a done context should fail")
	}
}

func TestCloseWakesWaiters(t *testing.T) {
	p, err := NewServer(1, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p.Acquire(context.Background())
	done := make(chan error)
	go func() { done <- p.Acquire(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	p.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
	p.Release() // no effect after Close
}

// Many goroutines acquire, hold and release tokens, some with contexts
// cancelled at random, while a "child" reads and writes the fifo itself:
// at no moment do more than n tokens hold, and the pool ends full.
func TestStress(t *testing.T) {
	for _, pol := range []Policy{PreferActions, Fair} {
		const n = 3
		p, err := NewServer(n, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		p.SetPolicy(pol)
		var running, maxRunning atomic.Int32
		child, err := p.childDescriptorsForTest()
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // a jobserver client taking extra tokens
			defer wg.Done()
			buf := make([]byte, 1)
			for {
				select {
				case <-stop:
					return
				default:
				}
				child.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
				if k, _ := child.Read(buf); k == 1 {
					if r := running.Add(1); r > maxRunning.Load() {
						maxRunning.Store(r)
					}
					time.Sleep(time.Millisecond)
					running.Add(-1)
					child.Write(buf)
				}
			}
		}()
		runAll(8, func(i int) error {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for range 150 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(3000))*time.Microsecond)
				if p.Acquire(ctx) == nil {
					if k := running.Add(1); k > n {
						t.Errorf("%d tokens held at once", k)
					}
					time.Sleep(time.Duration(r.IntN(500)) * time.Microsecond)
					running.Add(-1)
					p.Release()
				}
				cancel()
			}
			return nil
		})
		close(stop)
		wg.Wait()
		child.Close()
		s := checkAtRest(t, p)
		if s.Restored != 0 || s.Drained != 0 {
			t.Errorf("policy %d: count fixed: %+v", pol, s)
		}
		p.Close()
	}
}

// A server whose actions hold every token does not read the pipe: a byte
// a child wrote back without having read it is not a token to run on, and
// bld never holds more than n. (Without the check, the third Acquire below
// takes the surplus byte at once.)
func TestServerNeverGrantsMoreThanN(t *testing.T) {
	p, err := NewServer(2, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	p.Acquire(ctx) // the implicit token
	p.Acquire(ctx) // the one byte token
	child, err := p.childDescriptorsForTest()
	if err != nil {
		t.Fatal(err)
	}
	defer child.Close()
	if _, err := child.Write([]byte{'+'}); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := p.Acquire(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a third Acquire on a pool of 2: %v, want %v", err, context.DeadlineExceeded)
	}
	if s := p.Stats(); s.Held != 1 || s.InPipe != 1 {
		t.Errorf("after the surplus byte: %+v, want Held 1 and the byte left in the pipe", s)
	}
	p.Release()
	p.Release()
}

// A server makes its fifo at the first use that needs it: a build that
// takes only the implicit token (a no-op, or -j1 without a jobserver-aware
// action) creates nothing; a second token or Attach makes it; Close
// removes it. An error making it is the error of the call that needed it.
func TestServerFifoMadeAtFirstNeed(t *testing.T) {
	entries := func(dir string) int {
		t.Helper()
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	ctx := context.Background()
	dir := t.TempDir()
	p, err := NewServer(2, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	p.Release()
	if n := entries(dir); n != 0 {
		t.Errorf("after the implicit token alone: %d entries in %s, want none", n, dir)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	p, err = NewServer(2, dir)
	if err != nil {
		t.Fatal(err)
	}
	p.Acquire(ctx)
	if err := p.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if n := entries(dir); n != 1 {
		t.Errorf("after a second token: %d entries in %s, want the fifo's directory", n, dir)
	}
	p.Release()
	p.Release()
	checkAtRest(t, p)
	p.Close()
	if n := entries(dir); n != 0 {
		t.Errorf("after Close: %d entries in %s, want none", n, dir)
	}

	p, err = NewServer(2, dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	detach, err := p.Attach(cmd, StyleFifo)
	if err != nil {
		t.Fatal(err)
	}
	if mf, _ := lookupEnv(cmd.Env, "MAKEFLAGS"); !strings.Contains(mf, "fifo:"+dir) {
		t.Errorf("MAKEFLAGS %q does not name a fifo in %s", mf, dir)
	}
	detach()
	p.Close()

	missing := filepath.Join(dir, "missing")
	p, err = NewServer(2, missing)
	if err != nil {
		t.Fatalf("NewServer in a missing directory: %v (the fifo is not made yet)", err)
	}
	defer p.Close()
	if err := p.Acquire(ctx); err != nil {
		t.Fatalf("the implicit token: %v", err)
	}
	if err := p.Acquire(ctx); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("a second token with the fifo's directory missing: %v, want an error naming %s", err, missing)
	}
	if _, err := p.Attach(exec.Command("true"), StylePipe); err == nil {
		t.Error("Attach with the fifo's directory missing succeeded")
	}
}
