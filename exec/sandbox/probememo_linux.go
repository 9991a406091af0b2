package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// probeConditions returns a digest of what decides whether a namespace
// probe of the workspace root succeeds, as far as bld can see it without
// trying: the boot, bld's binary, the user and group ids, the user, mount
// and pid namespaces bld runs in (a container is another), the kernel's
// limits and switches for unprivileged user namespaces, bld's seccomp and
// no_new_privs state and LSM label. ok is false when one cannot be read:
// then bld probes.
func probeConditions(root string) (digest string, ok bool) {
	h := sha256.New()
	add := func(k, v string) { fmt.Fprintf(h, "%s=%q\n", k, v) }
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", false
	}
	add("boot", string(boot))
	exe, err := os.Executable()
	if err != nil {
		return "", false
	}
	var st syscall.Stat_t
	if err := syscall.Stat(exe, &st); err != nil {
		return "", false
	}
	add("exe", fmt.Sprintf("%s %d %d %d %d.%d %d.%d", exe, st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec))
	add("ids", fmt.Sprintf("%d %d %d %d", os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid()))
	for _, ns := range []string{"user", "mnt", "pid"} {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			return "", false
		}
		add(ns, l)
	}
	// Missing on some kernels: what a read says (content or error) is the
	// condition.
	for _, f := range []string{
		"/proc/sys/user/max_user_namespaces",
		"/proc/sys/user/max_mnt_namespaces",
		"/proc/sys/user/max_pid_namespaces",
		"/proc/sys/kernel/unprivileged_userns_clone",
		"/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
		"/proc/self/attr/current",
	} {
		b, err := os.ReadFile(f)
		if err != nil {
			add(f, "error: "+err.Error())
			continue
		}
		add(f, string(b))
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "NoNewPrivs:") || strings.HasPrefix(line, "Seccomp") {
			add("status", line)
		}
	}
	add("root", root)
	return hex.EncodeToString(h.Sum(nil)), true
}
