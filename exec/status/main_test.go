package status

import (
	"os"
	"testing"

	"bld/exec/sandbox"
)

// TestMain lets this test binary serve as the sandbox's namespace helper.
func TestMain(m *testing.M) {
	sandbox.Main()
	os.Exit(m.Run())
}
