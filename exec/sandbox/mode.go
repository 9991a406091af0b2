package sandbox

import "fmt"

// Mode is how actions are sandboxed.
type Mode int

const (
	// ModeAuto is ModeNamespace where it works, else ModeSymlinks. It is
	// the zero value: actions are sandboxed unless asked otherwise.
	ModeAuto Mode = iota
	// ModeNamespace runs commands in a user and mount namespace that shows
	// the exec root at FixedExecRoot. Linux only.
	ModeNamespace
	// ModeSymlinks runs commands in the exec root's real directory.
	ModeSymlinks
	// ModeOff runs commands in the workspace root.
	ModeOff
)

var modeNames = []string{"auto", "namespace", "symlinks", "off"}

func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads a mode as String writes it.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if n == s {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown sandbox mode %q (want auto, namespace, symlinks or off)", s)
}
