//go:build linux

package filestat

import (
	"path/filepath"
	"syscall"
)

// Magic numbers of statfs(2)'s f_type for the file systems that Linux
// (6.13 and later) gives multigrain timestamps: tmpfs, ext4 (and ext2/3,
// which share its number and its code), xfs, btrfs.
const (
	tmpfsMagic = 0x01021994
	ext4Magic  = 0xEF53
	xfsMagic   = 0x58465342
	btrfsMagic = 0x9123683E
)

// probeTrials is how many times ExactCtimeDevice changes its probe file
// right after a stat of it. A file system with coarse timestamps gives
// both changes of a trial one status-change time unless a clock tick (1
// to 10 ms) falls between them, a few microseconds apart: all of the
// trials passing on such a file system would take ~1e-10 odds or worse.
const probeTrials = 4

// ExactCtimeDevice reports whether the file system that holds dir gives
// a file changed after a stat of it a status-change time later than the
// one that stat said, however soon after the stat the change comes (Linux
// 6.13's multigrain timestamps: once a stat has read an inode's ctime, its
// next change takes a fine-grained time instead of the clock tick's). On
// such a file system a stamp (size, mtime, ctime, inode) that a stat took
// before a read of the content, and that a stat after the read confirmed,
// is exact: any later change moves the ctime, so the stamp alone vouches
// for the content from then on, with no racy window. It returns the
// device number of that file system (only files on it are covered).
//
// The answer is a probe, and it is conservative: the file system must be
// one of those Linux gives multigrain timestamps (statfs' type: tmpfs,
// ext4, xfs, btrfs; never a network or FUSE file system, whose stamps
// come from elsewhere), and a probe file in dir (.ctime-probe, made once
// and kept) must get a later ctime from each of probeTrials writes that
// follow a stat of it. Any error says false.
func ExactCtimeDevice(dir string) (dev uint64, ok bool) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, false
	}
	switch uint32(fs.Type) {
	case tmpfsMagic, ext4Magic, xfsMagic, btrfsMagic:
	default:
		return 0, false
	}
	fd, err := syscall.Open(filepath.Join(dir, ".ctime-probe"), syscall.O_RDWR|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return 0, false
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return 0, false
	}
	b := []byte{0}
	for i := range probeTrials {
		b[0] = byte(i)
		if n, err := syscall.Pwrite(fd, b, 0); n != 1 || err != nil {
			return 0, false
		}
		if syscall.Fstat(fd, &st) != nil {
			return 0, false
		}
		queried := CtimeNs(&st)
		if n, err := syscall.Pwrite(fd, b, 0); n != 1 || err != nil {
			return 0, false
		}
		if syscall.Fstat(fd, &st) != nil || CtimeNs(&st) <= queried {
			return 0, false
		}
	}
	return uint64(st.Dev), true
}
