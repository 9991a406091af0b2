//go:build linux

package filestat

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	f := strings.FieldsFunc(string(b), func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 {
		t.Fatalf("kernel release %q", b)
	}
	ma, _ := strconv.Atoi(f[0])
	mi, _ := strconv.Atoi(f[1])
	return ma > major || ma == major && mi >= minor
}

// ExactCtimeDevice says yes only where it is true: on a directory it
// vouches for, a file changed right after an fstat always gets another
// ctime (checked 500 times, where a coarse clock would give the same one
// nearly every time), and the device is the file's. On Linux 6.13 or later
// a tmpfs and /tmp's file system (ext4 on this project's machines) are
// such file systems; a missing directory and /proc are not.
func TestExactCtimeDevice(t *testing.T) {
	dirs := []string{t.TempDir()}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "exact")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		dev, ok := ExactCtimeDevice(dir)
		var fs syscall.Statfs_t
		if err := syscall.Statfs(dir, &fs); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (file system type %#x): exact %v", dir, fs.Type, ok)
		if !ok {
			if kernelAtLeast(t, 6, 13) && (uint32(fs.Type) == tmpfsMagic || uint32(fs.Type) == ext4Magic) {
				t.Errorf("%s: not exact on Linux 6.13 or later, type %#x", dir, fs.Type)
			}
			continue
		}
		p := filepath.Join(dir, "f")
		fd, err := syscall.Open(p, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		for i := range 500 {
			syscall.Pwrite(fd, []byte{byte(i)}, 0)
			syscall.Fstat(fd, &st)
			before := CtimeNs(&st)
			syscall.Pwrite(fd, []byte{byte(i + 1)}, 0)
			syscall.Fstat(fd, &st)
			if CtimeNs(&st) == before {
				t.Fatalf("%s: a change after an fstat kept its ctime (round %d), yet ExactCtimeDevice said exact", dir, i)
			}
		}
		syscall.Close(fd)
		if uint64(st.Dev) != dev {
			t.Errorf("%s: device %d, the file's is %d", dir, dev, st.Dev)
		}
	}
	if _, ok := ExactCtimeDevice(filepath.Join(t.TempDir(), "missing")); ok {
		t.Errorf("a missing directory is exact")
	}
	if _, ok := ExactCtimeDevice("/proc"); ok {
		t.Errorf("/proc is exact")
	}
}
