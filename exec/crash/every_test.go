package crash

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestEvery: f runs again and again until stop, and never after stop has
// returned.
func TestEvery(t *testing.T) {
	var calls atomic.Int64
	stop := Every(time.Millisecond, func() { calls.Add(1) })
	for calls.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	stop()
	after := calls.Load()
	time.Sleep(20 * time.Millisecond)
	if got := calls.Load(); got != after {
		t.Errorf("f ran %d more times after stop returned", got-after)
	}
}
