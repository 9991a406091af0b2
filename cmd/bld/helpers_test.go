package main

// Helpers for the end-to-end tests: the bld binary, built once, and
// throwaway workspaces to run it in.

import (
	"bld/cmd/bld/bldtest"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// bldBinary is the bld program built from this package by TestMain.
var bldBinary string

func TestMain(m *testing.M) {
	if os.Getenv(fifoClientEnv) != "" {
		os.Exit(fifoClientMain())
	}
	bldtest.Main(m, &bldBinary)
}

// testWorkspace is a workspace in a temporary directory, with its own action
// cache and HOME, so that tests neither see nor disturb the user's.
type testWorkspace struct {
	t     *testing.T
	root  string
	env   []string
	cache string
}

// newWorkspace writes WORKSPACE.star and files (path -> content; a path
// ending in "/" is a directory) into a new temporary directory.
func newWorkspace(t *testing.T, files map[string]string) *testWorkspace {
	t.Helper()
	w := workspaceAt(t, t.TempDir())
	w.write("WORKSPACE.star", "")
	for p, c := range files {
		w.write(p, c)
	}
	return w
}

// workspaceAt returns the workspace at root, an existing directory, with
// its own cache and HOME.
func workspaceAt(t *testing.T, root string) *testWorkspace {
	t.Helper()
	bldtest.TouchSources("../..")
	home := t.TempDir()
	cache := filepath.Join(home, "cache")
	w := &testWorkspace{
		t:     t,
		root:  root,
		cache: cache,
		env: []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + home,
			"XDG_CACHE_HOME=" + cache,
			"BLD_CACHE_DIR=" + filepath.Join(cache, "bld"),
			"LC_ALL=C",
		},
	}
	return w
}

func (w *testWorkspace) path(rel string) string {
	return filepath.Join(w.root, filepath.FromSlash(rel))
}

// write writes a file of the workspace, creating its directory.
func (w *testWorkspace) write(rel, content string) {
	w.t.Helper()
	p := w.path(rel)
	if strings.HasSuffix(rel, "/") {
		if err := os.MkdirAll(p, 0o755); err != nil {
			w.t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// read returns the content of a workspace file, or fails the test.
func (w *testWorkspace) read(rel string) string {
	w.t.Helper()
	b, err := os.ReadFile(w.path(rel))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

func (w *testWorkspace) exists(rel string) bool {
	_, err := os.Lstat(w.path(rel))
	return err == nil
}

// result is what one bld run did.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// output is stdout and stderr together, for messages that may go to either.
func (r result) output() string { return r.stdout + r.stderr }

func (r result) String() string {
	return fmt.Sprintf("bld %s: exit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// command returns the bld command for args, run in the workspace directory
// dir (relative to the root).
func (w *testWorkspace) command(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(bldBinary, args...)
	cmd.Dir = w.path(dir)
	cmd.Env = w.env
	return cmd
}

// bldIn runs bld in the workspace directory dir and returns what it did.
func (w *testWorkspace) bldIn(dir string, args ...string) result {
	w.t.Helper()
	cmd := w.command(dir, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			w.t.Fatalf("running bld %v: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// bld runs bld at the workspace root.
func (w *testWorkspace) bld(args ...string) result {
	w.t.Helper()
	return w.bldIn(".", args...)
}

// mustBuild runs bld with args and fails the test unless it succeeds.
func (w *testWorkspace) mustBuild(args ...string) result {
	w.t.Helper()
	r := w.bld(args...)
	if r.code != 0 {
		w.t.Fatalf("want success, got:\n%s", r)
	}
	return r
}

// event is one line of an --events file.
type event struct {
	Label    string   `json:"label"`
	Mnemonic string   `json:"mnemonic"`
	Outputs  []string `json:"outputs"`
	Start    float64  `json:"start"`
	End      float64  `json:"end"`
	ExitCode int      `json:"exit_code"`
	Status   string   `json:"status"`
}

// key names the action of an event: its label, mnemonic and outputs.
func (e event) key() string {
	return e.Label + " " + e.Mnemonic + " " + strings.Join(e.Outputs, ",")
}

// requiredEventFields are the fields every event has, with their JSON types.
var requiredEventFields = map[string]string{
	"label": "string", "mnemonic": "string", "outputs": "array",
	"start": "number", "end": "number", "exit_code": "number", "status": "string",
}

// readEvents parses an --events file, checking that every line is one JSON
// object with the documented fields.
func (w *testWorkspace) readEvents(rel string) []event {
	w.t.Helper()
	data := w.read(rel)
	var events []event
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var raw map[string]any
		if err := json.Unmarshal(line, &raw); err != nil {
			w.t.Fatalf("events line %d is not a JSON object: %v\n%s", n, err, line)
		}
		for field, typ := range requiredEventFields {
			v, ok := raw[field]
			if !ok {
				w.t.Fatalf("events line %d has no %q: %s", n, field, line)
			}
			got := fmt.Sprintf("%T", v)
			switch v.(type) {
			case string:
				got = "string"
			case float64:
				got = "number"
			case []any:
				got = "array"
			}
			if got != typ {
				w.t.Fatalf("events line %d: %q is a %s, want a %s: %s", n, field, got, typ, line)
			}
		}
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			w.t.Fatalf("events line %d: %v", n, err)
		}
		switch e.Status {
		case "ran", "cached", "restored", "failed":
		default:
			w.t.Fatalf("events line %d: status %q, want ran, cached, restored or failed", n, e.Status)
		}
		events = append(events, e)
	}
	return events
}

// withStatus returns the sorted keys of the events with the given status.
func withStatus(events []event, status string) []string {
	var out []string
	for _, e := range events {
		if e.Status == status {
			out = append(out, e.key())
		}
	}
	sort.Strings(out)
	return out
}

// statuses counts the events of each status.
func statuses(events []event) map[string]int {
	m := map[string]int{}
	for _, e := range events {
		m[e.Status]++
	}
	return m
}

// wantContains fails the test unless text contains each of want.
func wantContains(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(text, s) {
			t.Errorf("output does not contain %q:\n%s", s, text)
		}
	}
}

// wantMatch fails the test unless text matches each regular expression.
func wantMatch(t *testing.T, text string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !regexp.MustCompile(s).MatchString(text) {
			t.Errorf("output does not match %s:\n%s", s, text)
		}
	}
}
