package ship

import (
	"fmt"
	"strings"
)

// CanRewrite reports, as an error saying why not, whether Rewrite of
// argv runs what argv runs locally. It cannot when argv names its own
// sysroot (--sysroot, -isysroot), linker (-fuse-ld=, --ld-path=), wrapper
// or specs (the rewrite sets them), passes arguments in a response file
// (@file: unseen), or links with link-time optimization (-flto without -c,
// -S or -E: lto1 is not shipped and ld's plugin starts lto-wrapper without
// the shipped loader). A caller runs such a command locally.
func (t *Toolchain) CanRewrite(argv []string) error {
	compileOnly, lto := false, ""
	for i, a := range argv {
		if i == 0 {
			continue
		}
		switch {
		case a == "-c" || a == "-S" || a == "-E":
			compileOnly = true
		case a == "-flto" || strings.HasPrefix(a, "-flto="):
			lto = a
		case a == "-fno-lto":
			lto = ""
		case strings.HasPrefix(a, "@"):
			return fmt.Errorf("argument %s: a response file's arguments cannot be checked", a)
		case a == "--sysroot" || strings.HasPrefix(a, "--sysroot=") || strings.HasPrefix(a, "-isysroot"),
			strings.HasPrefix(a, "-fuse-ld="), strings.HasPrefix(a, "--ld-path="),
			a == "-wrapper", strings.HasPrefix(a, "-specs="), strings.HasPrefix(a, "--specs"):
			return fmt.Errorf("argument %s: the shipped toolchain sets its own", a)
		}
	}
	if lto != "" && !compileOnly {
		return fmt.Errorf("argument %s: a link with link-time optimization needs lto1 and lto-wrapper, which are not shipped", lto)
	}
	return nil
}
