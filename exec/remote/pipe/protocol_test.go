package pipe

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowWriter counts its writes and takes a while over each, so that
// senders pile up behind the one writing.
type slowWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	closed bool
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errors.New("write after close")
	}
	w.writes++
	return w.buf.Write(p)
}

func (w *slowWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return nil
}

// TestFrameWriterCoalesces: frames sent at once by many senders all
// arrive, whole and once each, in fewer writes than frames, also after a
// frame too big for the writer to keep its buffer; after close, sends fail
// and nothing more is written.
func TestFrameWriterCoalesces(t *testing.T) {
	w := &slowWriter{}
	fw := newFrameWriter(w)
	const senders, each = 16, 20
	// A small frame, then one bigger than maxSpare: the writer keeps the
	// first's buffer, not the second's.
	const small, big = senders * each, senders*each + 1
	for _, req := range []request{{ID: small, Op: opStats}, {ID: big, Op: opStats, Path: strings.Repeat("x", maxSpare)}} {
		if err := fw.send(req); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := fw.send(request{ID: uint64(s*each + i), Op: opStats}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait() // the writer returns once the queue is empty: all is written
	if err := fw.close(w); err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	r := bufio.NewReader(bytes.NewReader(w.buf.Bytes()))
	for {
		var req request
		if err := readFrame(r, &req); err != nil {
			break
		}
		if seen[req.ID] || req.Op != opStats || (req.ID == big) != (len(req.Path) == maxSpare) {
			t.Errorf("frame %d: twice, or garbled", req.ID)
		}
		seen[req.ID] = true
	}
	if len(seen) != senders*each+2 {
		t.Errorf("%d frames arrived, want %d", len(seen), senders*each+2)
	}
	if w.writes >= senders*each {
		t.Errorf("%d writes for %d frames: nothing coalesced", w.writes, senders*each)
	}
	if err := fw.send(request{ID: 1}); !errors.Is(err, errClosed) {
		t.Errorf("send after close: %v, want errClosed", err)
	}
}
