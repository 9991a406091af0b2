package build

import "os"

// MakeOutputDir creates bld-out/ (OutputDir) if it does not exist, and
// marks a new one as the top of a directory hierarchy where the file
// system has such a mark (ext2/3/4's T attribute, chattr +T): the
// directories a build makes in it, one per package, are then placed like
// directories at the root of the file system, spread over block groups
// with free inodes, rather than packed in the group of the workspace's
// own files. Why it matters: on an ext4 without a journal, creating a
// file skips, one by one, every inode of its group freed within the last
// minute or more (half a millisecond and more per output, each in a
// command, after a checkout or a bld-out/ was deleted beside it; see
// docs/benchmarks.md, branch lean5). The mark changes where inodes go,
// never what a build reads or writes; a file system without it (tmpfs),
// or an error setting it, leaves bld-out/ unmarked. An existing bld-out/
// is left as it is.
func (l Layout) MakeOutputDir() error {
	dir := l.OutputDir()
	if err := os.Mkdir(dir, 0o755); err != nil {
		// There already, or its parent missing: MkdirAll makes what is
		// missing (unmarked: not a new workspace's case) and says if
		// what is there is not a directory.
		return os.MkdirAll(dir, 0o755)
	}
	markTopDir(dir)
	return nil
}
