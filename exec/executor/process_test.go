package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A program that something still holds open for writing fails to start
// with ETXTBSY; forkExec tries again until the writer lets go, and gives
// up at once when its context is done.
func TestForkExecWaitsForBusyProgram(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "tool.sh")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	writer, err := os.OpenFile(prog, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := forkExec(canceled, prog, []string{prog}, attr); !errors.Is(err, syscall.ETXTBSY) {
		t.Fatalf("a busy program with a done context: got %v, want ETXTBSY", err)
	}

	// The writer lets go 50 ms from now: the first attempt fails, a
	// retry starts it.
	time.AfterFunc(50*time.Millisecond, func() { writer.Close() })
	pid, err := forkExec(context.Background(), prog, []string{prog}, attr)
	if err != nil {
		t.Fatalf("forkExec of a program whose writer closes soon: %v", err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
		t.Errorf("the program: wait %v, status %v", err, ws)
	}
}
