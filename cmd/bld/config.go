package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"bld/starlark/analysis"
	"bld/starlark/workspace"
)

// configFlags are the flags that choose the build configuration
// (analysis.Config), spelled as Bazel spells them.
type configFlags struct {
	mode                                string
	copts, conlyopts, cxxopts, linkopts stringsFlag
	defines                             stringsFlag
	execProperties                      stringsFlag
}

// configHelp documents configFlags for a command's help.
const configHelp = `  -c, --compilation_mode MODE
                   fastbuild (default: no options added), opt (-O2
                   -DNDEBUG) or dbg (-g -O0), added to every C/C++ compile
  --copt OPT       an option for every C and C++ compile; repeatable
  --conlyopt OPT   an option for every C compile; repeatable
  --cxxopt OPT     an option for every C++ compile; repeatable
  --linkopt OPT    an option for every link; repeatable
  --define NAME=VALUE
                   a value for select() (config_setting define_values) and
                   ctx.var; repeatable, the last value of a name counts
  --remote_default_exec_properties NAME=VALUE
                   a platform property of every action (OSFamily=linux,
                   container-image=...), for a remote executor to pick a
                   worker by; a target's exec_properties override it;
                   repeatable; part of the actions' keys`

func addConfigFlags(fs *flag.FlagSet) *configFlags {
	f := &configFlags{}
	fs.StringVar(&f.mode, "c", "", "")
	fs.StringVar(&f.mode, "compilation_mode", "", "")
	fs.Var(&f.copts, "copt", "")
	fs.Var(&f.conlyopts, "conlyopt", "")
	fs.Var(&f.cxxopts, "cxxopt", "")
	fs.Var(&f.linkopts, "linkopt", "")
	fs.Var(&f.defines, "define", "")
	fs.Var(&f.execProperties, "remote_default_exec_properties", "")
	return f
}

// config checks the flags and returns the configuration they choose.
func (f *configFlags) config() (analysis.Config, error) {
	switch f.mode {
	case "", analysis.ModeFastbuild, analysis.ModeOpt, analysis.ModeDbg:
	default:
		return analysis.Config{}, usageError(fmt.Sprintf("-c %s: want fastbuild, opt or dbg", f.mode))
	}
	for _, d := range f.defines {
		if name, _, ok := strings.Cut(d, "="); !ok || name == "" {
			return analysis.Config{}, usageError(fmt.Sprintf("--define %s: want NAME=VALUE", d))
		}
	}
	for _, p := range f.execProperties {
		if name, _, ok := strings.Cut(p, "="); !ok || name == "" {
			return analysis.Config{}, usageError(fmt.Sprintf("--remote_default_exec_properties %s: want NAME=VALUE", p))
		}
	}
	return analysis.Config{
		ExecProperties:  f.execProperties,
		CompilationMode: f.mode,
		Copts:           f.copts,
		Conlyopts:       f.conlyopts,
		Cxxopts:         f.cxxopts,
		Linkopts:        f.linkopts,
		Defines:         f.defines,
	}, nil
}

// rcFileName is the file of default flags, in the user's home directory and
// at the workspace root, as Bazel's .bazelrc.
const rcFileName = ".bldrc"

// rcArgs returns the default arguments of command from the .bldrc files:
// the home directory's, then the workspace's (found from dir; none outside
// a workspace), so that the workspace's come later and win. In each file,
// a line "common ARGS..." applies to every command and "COMMAND ARGS..."
// to that command, in the order of the lines; '#' starts a comment;
// arguments are separated by blanks (no quoting). The command line's own
// arguments come after all of them and so override them.
func rcArgs(env *environment, command string) ([]string, error) {
	var files []string
	if home := env.getenv("HOME"); home != "" {
		files = append(files, filepath.Join(home, rcFileName))
	}
	if root, _, err := workspace.FindRoot(env.dir); err == nil {
		files = append(files, filepath.Join(root, rcFileName))
	}
	var args []string
	for _, name := range files {
		f, err := os.Open(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line, _, _ := strings.Cut(sc.Text(), "#")
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			if fields[0] == "common" || fields[0] == command {
				args = append(args, fields[1:]...)
			} else if _, known := commands[fields[0]]; !known {
				f.Close()
				return nil, fmt.Errorf("%s:%d: %q is not a bld command; a line starts with a command (build, query, ...) or common", name, n, fields[0])
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
	}
	return args, nil
}

// compilersOf returns the C and C++ compilers the user gave actions
// (--action_env=CC=clang, --action_env=CXX): the cc rules use them
// instead of gcc and g++. bld's own CC and CXX alone do not count: an
// action's environment is only what the user declares.
func compilersOf(actionEnv []string) (cc, cxx string) {
	for _, kv := range actionEnv {
		switch k, v, _ := strings.Cut(kv, "="); k {
		case "CC":
			cc = v
		case "CXX":
			cxx = v
		}
	}
	return cc, cxx
}
