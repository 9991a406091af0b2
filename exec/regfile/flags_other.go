//go:build !unix

package regfile

// openFlags returns the flags Open adds to O_RDONLY: none where the
// system has no FIFOs to block on.
func openFlags(follow bool) int { return 0 }

// isLoop reports false: without O_NOFOLLOW, open does not fail on a link.
func isLoop(err error) bool { return false }
