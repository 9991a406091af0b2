package jobserver_test

import (
	"bld/exec/executor"
	"bld/exec/jobserver"
)

var (
	_ executor.TokenPool = (*jobserver.Pool)(nil)
	// The scheduler waits for a Pool's tokens in its own loop.
	_ executor.TokenRequester = (*jobserver.Pool)(nil)
)
