//go:build !linux

package sandbox

// probeConditions cannot tell: namespaces exist only on Linux, where the
// probe fails anyway.
func probeConditions(string) (string, bool) { return "", false }

// checkFixedDir is not called: recall needs a memo, which needs a probe
// that succeeded.
func checkFixedDir(string) error { return nil }
