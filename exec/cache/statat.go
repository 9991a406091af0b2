package cache

import "bld/exec/filestat"

// A rootDir stats files by their path relative to the workspace root
// (filestat.Dir: fstatat(2) on a descriptor of the root where the system
// has it, so that no absolute path is built and the kernel walks only the
// relative path's components). A no-op build stats every output of the
// build this way.
type rootDir struct{ dir *filestat.Dir }

func openRootDir(root string) *rootDir { return &rootDir{dir: filestat.OpenDir(root)} }

// stat is statStamp of root/rel, rel a clean workspace-relative path.
func (d *rootDir) stat(rel string) (stamp, bool, error) {
	st, err := d.dir.Stat(rel)
	if err != nil {
		return stamp{}, false, err
	}
	return stampOfFilestat(st), st.Mode.IsRegular(), nil
}

func (d *rootDir) close() { d.dir.Close() }

// stampOfFilestat is the stamp of a file of which st is the stat.
func stampOfFilestat(st filestat.Stat) stamp {
	return stamp{size: st.Size, mtime: st.Mtime, ctime: st.Ctime, ino: st.Ino, exec: st.Mode&0o111 != 0}
}
