package cache

import "syscall"

// oNoATime opens a file for hashing without updating its access time:
// bld reads each output right after its command wrote it (Store), which
// under relatime, the default, would update the output's atime, a write
// of its inode (on ext4, an inode table block dirtied per output) that
// nothing needs. Linux lets only the file's owner (or CAP_FOWNER) ask;
// openRead reads another's file without it.
const oNoATime = syscall.O_NOATIME
