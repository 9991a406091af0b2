package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestProbeMemo checks RememberProbe: a probe that succeeded is kept and a
// later Manager takes its answer (the same mode and pid namespace) without
// probing; a memo of other conditions, a damaged one, or none is not used
// (the probe runs and writes it again); the memo is removed when the
// zygote then fails to start.
func TestProbeMemo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("namespaces are Linux only")
	}
	root := t.TempDir()
	memo := filepath.Join(root, "bld-out", ".bld", "sandbox-probe")
	ctx := context.Background()
	resolve := func(want Mode) *Manager {
		t.Helper()
		m := NewManager(root, want)
		m.RememberProbe(memo)
		if _, _, err := m.Mode(ctx); err != nil {
			t.Fatalf("Mode: %v", err)
		}
		return m
	}
	probed := NewManager(root, ModeAuto)
	if mode, reason, _ := probed.Mode(ctx); mode != ModeNamespace {
		t.Skipf("no namespaces here: %s", reason)
	}
	first := resolve(ModeAuto)
	if first.zygote.startFailed != nil {
		t.Fatal("the first Manager took an answer with no memo")
	}
	data, err := os.ReadFile(memo)
	if err != nil {
		t.Fatalf("no memo after a probe that succeeded: %v", err)
	}
	cond, ok := probeConditions(root)
	if !ok || !strings.Contains(string(data), cond) {
		t.Fatalf("memo %q, want the conditions %q", data, cond)
	}
	for _, want := range []Mode{ModeAuto, ModeNamespace} {
		m := resolve(want)
		if m.zygote.startFailed == nil {
			t.Errorf("%v: probed again with a memo of the same conditions", want)
		}
		if m.mode != ModeNamespace || m.pidns != probed.pidns || m.noPidns != probed.noPidns {
			t.Errorf("%v: from the memo: mode %v, pidns %v %q; the probe said %v, %v %q", want, m.mode, m.pidns, m.noPidns, probed.mode, probed.pidns, probed.noPidns)
		}
	}
	if other, ok := probeConditions(root + "/other"); !ok || other == cond {
		t.Fatalf("another workspace's conditions: %q, %v; want a digest other than %q", other, ok, cond)
	}
	for name, content := range map[string]string{
		"other conditions": strings.Replace(string(data), cond, strings.Repeat("0", len(cond)), 1),
		"damaged":          string(data[:len(data)-3]),
		"empty":            "",
	} {
		if err := os.WriteFile(memo, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if m := resolve(ModeAuto); m.zygote.startFailed != nil || m.mode != ModeNamespace {
			t.Errorf("%s memo: taken (mode %v)", name, m.mode)
		}
		if again, err := os.ReadFile(memo); err != nil || string(again) != string(data) {
			t.Errorf("%s memo: after the probe, the memo is %q (%v), want %q", name, again, err, data)
		}
	}
	// The memo said the namespace works and the zygote could not start:
	// what zygote.running calls then (a start that fails cannot be made
	// here without breaking the namespaces of the whole test process).
	m := resolve(ModeAuto)
	m.zygote.mu.Lock()
	m.zygote.startFailed()
	m.zygote.mu.Unlock()
	if _, err := os.Stat(memo); !os.IsNotExist(err) {
		t.Errorf("after the zygote failed to start, the memo is still there (%v)", err)
	}
}
