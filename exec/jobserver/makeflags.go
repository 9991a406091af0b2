package jobserver

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// flagVars are the variables jobserver clients read, in the order the
// jobserver crate (cargo, rustc) consults them.
var flagVars = []string{"CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"}

// An auth is a parsed --jobserver-auth (or --jobserver-fds) value.
type auth struct {
	Var  string // the variable it came from
	Text string // the value as written
	Fifo string // fifo style: the path
	R, W int    // pipe style: the descriptors
}

// findAuth returns the jobserver named by environ: the last
// --jobserver-auth= or --jobserver-fds= word of the first of
// CARGO_MAKEFLAGS, MAKEFLAGS and MFLAGS that has one. ok is false when
// none does; err reports a value that cannot be parsed.
func findAuth(environ []string) (a auth, ok bool, err error) {
	for _, name := range flagVars {
		val, found := lookupEnv(environ, name)
		if !found {
			continue
		}
		text := ""
		for _, w := range strings.Fields(flagsPart(val)) {
			if v, isAuth := authValue(w); isAuth {
				text = v
			}
		}
		if text == "" {
			continue
		}
		a, err := parseAuth(text)
		a.Var = name
		return a, true, err
	}
	return auth{}, false, nil
}

func parseAuth(text string) (auth, error) {
	a := auth{Text: text}
	if path, ok := strings.CutPrefix(text, "fifo:"); ok {
		if path == "" {
			return a, fmt.Errorf("jobserver: empty fifo path in --jobserver-auth=%s", text)
		}
		a.Fifo = path
		return a, nil
	}
	rs, ws, ok := strings.Cut(text, ",")
	r, err1 := strconv.Atoi(rs)
	w, err2 := strconv.Atoi(ws)
	if !ok || err1 != nil || err2 != nil || r < 0 || w < 0 {
		return a, fmt.Errorf("jobserver: cannot parse --jobserver-auth=%s (want R,W or fifo:PATH)", text)
	}
	a.R, a.W = r, w
	return a, nil
}

// authValue reports whether word is a jobserver auth option, and its value.
func authValue(word string) (string, bool) {
	for _, prefix := range []string{"--jobserver-auth=", "--jobserver-fds="} {
		if v, ok := strings.CutPrefix(word, prefix); ok {
			return v, true
		}
	}
	return "", false
}

// isJobsWord reports whether word is a make option about parallel jobs:
// -j, -jN, --jobs, --jobs=N or a jobserver auth.
func isJobsWord(word string) bool {
	if _, ok := authValue(word); ok {
		return true
	}
	if word == "--jobs" || strings.HasPrefix(word, "--jobs=") {
		return true
	}
	if rest, ok := strings.CutPrefix(word, "-j"); ok && !strings.HasPrefix(word, "--") {
		_, err := strconv.Atoi(rest)
		return rest == "" || err == nil
	}
	return false
}

// flagsPart returns the options of a MAKEFLAGS value, without the
// variable definitions make puts after " -- ".
func flagsPart(v string) string {
	head, _ := splitVars(v)
	return head
}

// splitVars splits a MAKEFLAGS value into its options (head) and the
// variable definitions make puts after a "--" word (tail, starting at that
// word, or ""). Words are separated as strings.Fields separates them, so
// that the "--" found here is the one the options' words would show.
func splitVars(v string) (head, tail string) {
	inWord, start := false, 0
	for i, r := range v {
		switch {
		case unicode.IsSpace(r):
			if inWord && v[start:i] == "--" {
				return v[:start], v[start:]
			}
			inWord = false
		case !inWord:
			inWord, start = true, i
		}
	}
	if inWord && v[start:] == "--" {
		return v[:start], v[start:]
	}
	return v, ""
}

// withoutJobs removes the job options from a MAKEFLAGS value and, when add
// is not empty, appends add in their place (before any variables).
func withoutJobs(v, add string) string {
	head, tail := splitVars(v)
	var kept []string
	for _, w := range strings.Fields(head) {
		if !isJobsWord(w) {
			kept = append(kept, w)
		}
	}
	if add != "" {
		kept = append(kept, add)
	}
	out := strings.Join(kept, " ")
	if tail != "" {
		if out != "" {
			out += " "
		}
		out += tail
	}
	return out
}

// jobserverEnv returns env with the variables jobserver clients read set
// to name the jobserver given by authArgs (such as
// "--jobserver-auth=fifo:/x"). Other make options in MAKEFLAGS are kept.
func jobserverEnv(env []string, authArgs string) []string {
	flags := "-j " + authArgs
	mf, _ := lookupEnv(env, "MAKEFLAGS")
	mflags, hasMF := lookupEnv(env, "MFLAGS")
	env = setEnv(env, "MAKEFLAGS", withoutJobs(mf, flags))
	env = setEnv(env, "CARGO_MAKEFLAGS", flags)
	if hasMF {
		env = setEnv(env, "MFLAGS", withoutJobs(mflags, flags))
	}
	return env
}

// Scrub returns environ without any jobserver: the job options (-j,
// --jobs, --jobserver-auth, --jobserver-fds) are removed from MAKEFLAGS,
// MFLAGS and CARGO_MAKEFLAGS, and a variable left empty is removed. Use it
// for the environment of actions that are not jobserver-aware, so that a
// make they run neither waits on a jobserver it cannot reach nor starts
// -jN jobs of its own. environ is not modified.
func Scrub(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		isFlags := false
		for _, fv := range flagVars {
			if name == fv {
				isFlags = true
			}
		}
		if isFlags {
			val = withoutJobs(val, "")
			if strings.TrimSpace(val) == "" {
				continue
			}
			kv = name + "=" + val
		}
		out = append(out, kv)
	}
	return out
}

// lookupEnv returns the value of the last entry for name, as os/exec
// would pass it.
func lookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// setEnv returns a copy of env with every entry for name replaced by one
// name=val at the end.
func setEnv(env []string, name, val string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+val)
}
