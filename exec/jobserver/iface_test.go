package jobserver_test

import (
	"bld/exec/executor"
	"bld/exec/jobserver"
)

var _ executor.TokenPool = (*jobserver.Pool)(nil)
