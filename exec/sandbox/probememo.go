package sandbox

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"bld/exec/store"
)

// probeMemoMagic heads a probe memo file (Manager.RememberProbe).
const probeMemoMagic = "bld sandbox probe 1"

// RememberProbe has Mode keep the answer of a namespace probe that
// succeeded in the file memo, and take it from there in later builds
// rather than start a namespace to ask again (at 10,000 actions, a probe
// is ~9% of the CPU of a no-op build), as long as what decides the answer
// is unchanged: probeConditions. A failed probe is not kept: each build
// tries again. If the namespace then fails to start a command, the memo
// is removed, so that the next build probes (this one cannot fall back to
// ModeSymlinks: its keys were made for ModeNamespace). Call it before
// Mode; "" keeps nothing.
func (m *Manager) RememberProbe(memo string) { m.memo = memo }

// probeOrRecall is probe, or its answer taken from the memo.
func (m *Manager) probeOrRecall(ctx context.Context) error {
	var cond string
	if m.memo != "" {
		var ok bool
		if cond, ok = probeConditions(m.root); ok {
			if m.recall(cond) {
				return nil
			}
		}
	}
	err := m.probe(ctx)
	if err == nil && cond != "" {
		m.remember(cond) // a memo that cannot be written only costs a probe
	}
	return err
}

// recall sets the probe's answer from the memo, if it holds one for cond,
// and reports whether it did. The fixed directory is checked (and made) as
// a probe would.
func (m *Manager) recall(cond string) bool {
	data, err := os.ReadFile(m.memo)
	if err != nil {
		return false
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) != 5 || lines[0] != probeMemoMagic || lines[1] != cond || lines[4] != "" {
		return false
	}
	noPidns, err := strconv.Unquote(lines[3])
	if err != nil || (lines[2] != "pidns" && lines[2] != "nopidns") {
		return false
	}
	if checkFixedDir(m.root) != nil {
		return false
	}
	m.pidns, m.noPidns = lines[2] == "pidns", noPidns
	if m.pidns {
		m.noPidns = ""
	}
	m.zygote.onStartFailure(m.forgetProbe)
	return true
}

// remember writes the probe's answer for cond to the memo, atomically.
func (m *Manager) remember(cond string) error {
	ns := "nopidns"
	if m.pidns {
		ns = "pidns"
	}
	data := fmt.Sprintf("%s\n%s\n%s\n%s\n", probeMemoMagic, cond, ns, strconv.Quote(m.noPidns))
	return store.WriteFileAtomic(m.memo, []byte(data), 0o644)
}

// forgetProbe removes the memo: the namespace it said works did not.
func (m *Manager) forgetProbe() { os.Remove(m.memo) }
