//go:build !linux

package jobserver

// fionread is the ioctl that counts the bytes waiting in a pipe: FIONREAD,
// _IOR('f', 127, int), the same number on macOS and the BSDs. x/sys/unix
// does not export it for those systems.
const fionread = 0x4004667f

// othersHold cannot tell without /proc; the pool then relies on its own
// count of attached children.
func othersHold(path string) bool { return false }
