package jobserver

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// InUse sees the tokens a make action takes from the server's fifo: none
// before, the action's own and make's two extras (all 3) while its 9
// recipes run 3 at a time, none after; and it makes no fifo on a pool
// that had none.
func TestInUseCountsChildrenTokens(t *testing.T) {
	makePath := need(t, "make")
	dir := t.TempDir()
	mk := recipeMakefile(t, dir, 9)
	p, err := NewServer(3, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if n, total := p.InUse(); n != 0 || total != 3 {
		t.Errorf("a fresh pool: InUse = %d of %d, want 0 of 3", n, total)
	}
	if p.file != nil {
		t.Error("InUse made the fifo")
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var samples []int
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				n, _ := p.InUse()
				samples = append(samples, n)
			}
		}
	}()
	var out bytes.Buffer
	cmd := exec.Command(makePath, "-f", mk, "LOG="+filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = &out, &out
	err = runAction(context.Background(), p, cmd, true)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("make: %v\n%s", err, out.String())
	}
	most := 0
	for _, n := range samples {
		if n < 0 || n > 3 {
			t.Errorf("InUse sampled %d, outside 0..3", n)
		}
		most = max(most, n)
	}
	t.Logf("%d samples, most %d", len(samples), most)
	if most != 3 {
		t.Errorf("InUse never saw the 3 tokens make used (most %d in %d samples)", most, len(samples))
	}
	if n, _ := p.InUse(); n != 0 {
		t.Errorf("after the action: InUse = %d, want 0", n)
	}
	checkAtRest(t, p)
}
