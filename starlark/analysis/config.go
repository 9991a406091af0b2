package analysis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"bld/starlark/label"
	"bld/starlark/loading"
	"bld/starlark/structs"
)

// Compilation modes (-c), as Bazel names them.
const (
	ModeFastbuild = "fastbuild"
	ModeOpt       = "opt"
	ModeDbg       = "dbg"
)

// A Config is the build configuration: what the command line says about how
// every target is built. The zero value is the default configuration
// (fastbuild, no extra options, no defines), whose graph and keys are those
// of a build without any of these flags.
type Config struct {
	// CompilationMode is ModeFastbuild (also for ""), ModeOpt or ModeDbg.
	CompilationMode string
	// Copts are options of every C and C++ compile (--copt), Conlyopts of
	// C compiles only, Cxxopts of C++ compiles only, Linkopts of every link.
	Copts, Conlyopts, Cxxopts, Linkopts []string
	// Defines are --define NAME=VALUE, in command-line order; for a name
	// given twice, the last value counts.
	Defines []string
	// CC and CXX are the C and C++ compiler drivers (program names looked
	// up in the actions' PATH, or paths); "" means gcc and g++. bld sets
	// them from CC and CXX when the user gives those to actions
	// (--action_env=CC=clang), never from bld's own environment alone.
	CC, CXX string
	// ExecProperties are the workspace's default platform properties of
	// every action (--remote_default_exec_properties NAME=VALUE, in
	// command-line order; for a name given twice, the last value counts);
	// a target's exec_properties override them name by name.
	ExecProperties []string
}

// Compilers returns the C and C++ compiler drivers.
func (c Config) Compilers() (cc, cxx string) {
	return cmp.Or(c.CC, "gcc"), cmp.Or(c.CXX, "g++")
}

// Mode returns the compilation mode, ModeFastbuild for "".
func (c Config) Mode() string {
	if c.CompilationMode == "" {
		return ModeFastbuild
	}
	return c.CompilationMode
}

// Define returns the value of --define name, and whether it was given.
func (c Config) Define(name string) (string, bool) {
	for i := len(c.Defines) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(c.Defines[i], "="); k == name {
			return v, true
		}
	}
	return "", false
}

// Key lists what distinguishes the configuration, for the analysis
// snapshot's key: two configurations with the same Key analyze the same.
func (c Config) Key() []string {
	key := []string{"compilation_mode=" + c.Mode()}
	add := func(name string, vals []string) {
		for _, v := range vals {
			key = append(key, name+"="+v)
		}
	}
	add("copt", c.Copts)
	add("conlyopt", c.Conlyopts)
	add("cxxopt", c.Cxxopts)
	add("linkopt", c.Linkopts)
	add("define", c.Defines)
	add("exec_property", c.ExecProperties)
	cc, cxx := c.Compilers()
	return append(key, "cc="+cc, "cxx="+cxx)
}

// execProperties returns the platform properties of an action of a target
// whose exec_properties are own: the defaults, overridden by own; nil when
// both are empty.
func (c Config) execProperties(own map[string]string) map[string]string {
	if len(c.ExecProperties) == 0 && len(own) == 0 {
		return nil
	}
	m := make(map[string]string, len(c.ExecProperties)+len(own))
	for _, kv := range c.ExecProperties {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	for k, v := range own {
		m[k] = v
	}
	return m
}

// vars is ctx.var: the make variables a rule sees, COMPILATION_MODE and
// every --define.
func (c Config) vars() *starlark.Dict {
	d := starlark.NewDict(1 + len(c.Defines))
	d.SetKey(starlark.String("COMPILATION_MODE"), starlark.String(c.Mode()))
	for _, kv := range c.Defines {
		k, v, _ := strings.Cut(kv, "=")
		d.SetKey(starlark.String(k), starlark.String(v))
	}
	d.Freeze()
	return d
}

// fragments is ctx.fragments: cpp holds the C/C++ options of the
// configuration, as Bazel's cpp fragment does.
func (c Config) fragments() starlark.Value {
	list := func(ss []string) starlark.Value {
		vs := make([]starlark.Value, len(ss))
		for i, s := range ss {
			vs[i] = starlark.String(s)
		}
		l := starlark.NewList(vs)
		l.Freeze()
		return l
	}
	cc, cxx := c.Compilers()
	cpp := structs.FromStringDict(starlark.StringDict{
		"cc":               starlark.String(cc),
		"cxx":              starlark.String(cxx),
		"compilation_mode": starlark.String(c.Mode()),
		"copts":            list(c.Copts),
		"conlyopts":        list(c.Conlyopts),
		"cxxopts":          list(c.Cxxopts),
		"linkopts":         list(c.Linkopts),
	})
	return structs.FromStringDict(starlark.StringDict{"cpp": cpp})
}

// isBuiltinRule reports whether t is a target of the built-in rule name
// (defined in @bld//rules), whose attributes bld reads itself: alias,
// config_setting, package_group, test_suite. A user's rule of the same
// name is not.
func isBuiltinRule(t *loading.Target, name string) bool {
	return t != nil && t.Rule.Name() == name && t.Rule.DefinedIn.Repo == label.BuiltinRepo
}

// matches reports whether the config_setting l matches the configuration;
// e is the entry of from, which reads l's package.
func (a *Analyzer) matches(ctx context.Context, e *entry, l label.Label, from *loading.Target) (bool, error) {
	pkg, err := a.loadPackage(ctx, e, l.Pkg)
	if err != nil {
		return false, fmt.Errorf("%s: select() condition %s: %w", from.Pos, l, err)
	}
	t, ok := pkg.Targets[l.Name]
	if !ok || !isBuiltinRule(t, "config_setting") {
		return false, fmt.Errorf("%s: select() condition %s is not a config_setting; name a config_setting target or %q",
			from.Pos, l, loading.DefaultCondition)
	}
	values := t.Attr("values").(*starlark.Dict)
	for _, kv := range values.Items() {
		k, v := string(kv[0].(starlark.String)), string(kv[1].(starlark.String))
		var ok bool
		switch k {
		case "compilation_mode":
			ok = a.config.Mode() == v
		case "define":
			name, want, found := strings.Cut(v, "=")
			if !found {
				return false, fmt.Errorf("%s: config_setting %s: values {\"define\": %q}: want NAME=VALUE", t.Pos, l, v)
			}
			got, set := a.config.Define(name)
			ok = set && got == want
		case "copt":
			ok = slices.Contains(a.config.Copts, v)
		default:
			return false, fmt.Errorf("%s: config_setting %s: values key %q is not a setting bld knows; use compilation_mode, define or copt (or define_values)", t.Pos, l, k)
		}
		if !ok {
			return false, nil
		}
	}
	defines := t.Attr("define_values").(*starlark.Dict)
	for _, kv := range defines.Items() {
		got, set := a.config.Define(string(kv[0].(starlark.String)))
		if !set || got != string(kv[1].(starlark.String)) {
			return false, nil
		}
	}
	return true, nil
}

// resolveSelects returns t with its select()s resolved for the
// configuration: t itself when it has none, else a copy. e is t's entry.
func (a *Analyzer) resolveSelects(ctx context.Context, e *entry, t *loading.Target) (*loading.Target, error) {
	var names []string
	for _, name := range t.Rule.AttrNames { // sorted
		if loading.Selects(t.Attr(name)) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return t, nil
	}
	resolved := make(map[string]starlark.Value, len(names))
	for _, name := range names {
		v, err := loading.ResolveSelect(t.Rule.Attrs[name], t.Attr(name), func(l label.Label) (bool, error) {
			return a.matches(ctx, e, l, t)
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: attribute %s: %w", t.Pos, t.Rule.Name(), t.Label, name, err)
		}
		resolved[name] = v
	}
	return t.WithAttrs(resolved), nil
}
