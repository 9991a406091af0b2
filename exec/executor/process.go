package executor

import "syscall"

// kill kills the command's process group with SIGKILL, unless its leader
// was reaped (its group ID may then belong to another process). It runs
// when the build's context is done (startProcess arranges it).
func (p *process) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}
