package remotetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// inputTree is an input root read from the CAS.
type inputTree struct {
	dirs    map[string]*repb.Directory // digest key → directory
	missing []*repb.Digest
}

// readInputTree reads every directory under root and notes the missing
// directories and files. It validates each directory as Buildbarn's worker
// does: names are single path components, sorted, unique across files,
// directories and symlinks; symlink targets are relative.
func (s *Server) readInputTree(inName string, root *repb.Digest) (*inputTree, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.inst(inName)
	t := &inputTree{dirs: map[string]*repb.Directory{}}
	seenMissing := map[string]bool{}
	miss := func(d *repb.Digest) {
		if !seenMissing[key(d)] {
			seenMissing[key(d)] = true
			t.missing = append(t.missing, d)
		}
	}
	queue := []*repb.Digest{root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if _, ok := t.dirs[key(d)]; ok {
			continue
		}
		b, ok := in.cas[key(d)]
		if !ok && !has(in, d) {
			miss(d)
			continue
		}
		dir := &repb.Directory{}
		if err := proto.Unmarshal(b, dir); err != nil {
			return nil, errorf(codes.InvalidArgument, "input directory %s is not a Directory: %v", key(d), err)
		}
		if err := checkDirectory(dir, key(d)); err != nil {
			return nil, err
		}
		t.dirs[key(d)] = dir
		for _, f := range dir.Files {
			if !has(in, f.Digest) {
				miss(f.Digest)
			}
		}
		for _, n := range dir.Directories {
			queue = append(queue, n.Digest)
		}
	}
	return t, nil
}

func checkDirectory(dir *repb.Directory, k string) error {
	var names []string
	check := func(name string, i int, prev string) error {
		if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
			return errorf(codes.InvalidArgument, "input directory %s: bad name %q", k, name)
		}
		if i > 0 && prev >= name {
			return errorf(codes.InvalidArgument, "input directory %s: entries must be sorted by name and unique: %q before %q", k, prev, name)
		}
		names = append(names, name)
		return nil
	}
	for i, f := range dir.Files {
		if err := checkDigest(f.Digest, "input file "+f.Name); err != nil {
			return err
		}
		if err := check(f.Name, i, nameAt(dir.Files, i-1)); err != nil {
			return err
		}
	}
	for i, d := range dir.Directories {
		if err := checkDigest(d.Digest, "input directory "+d.Name); err != nil {
			return err
		}
		prev := ""
		if i > 0 {
			prev = dir.Directories[i-1].Name
		}
		if err := check(d.Name, i, prev); err != nil {
			return err
		}
	}
	for i, l := range dir.Symlinks {
		prev := ""
		if i > 0 {
			prev = dir.Symlinks[i-1].Name
		}
		if err := check(l.Name, i, prev); err != nil {
			return err
		}
		if l.Target == "" || filepath.IsAbs(l.Target) {
			return errorf(codes.InvalidArgument, "input directory %s: symlink %q has target %q; absolute targets are DISALLOWED", k, l.Name, l.Target)
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return errorf(codes.InvalidArgument, "input directory %s: %q appears twice", k, n)
		}
		seen[n] = true
	}
	return nil
}

func nameAt(fs []*repb.FileNode, i int) string {
	if i < 0 {
		return ""
	}
	return fs[i].Name
}

// materialize writes the directory with digest d at dir.
func (s *Server) materialize(inName string, t *inputTree, d *repb.Digest, dir string) error {
	node := t.dirs[key(d)]
	for _, f := range node.Files {
		s.mu.Lock()
		data := s.inst(inName).cas[key(f.Digest)]
		s.mu.Unlock()
		mode := os.FileMode(0o444)
		if f.IsExecutable {
			mode = 0o555
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name), data, mode); err != nil {
			return err
		}
	}
	for _, sub := range node.Directories {
		p := filepath.Join(dir, sub.Name)
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		if err := s.materialize(inName, t, sub.Digest, p); err != nil {
			return err
		}
	}
	for _, l := range node.Symlinks {
		if err := os.Symlink(l.Target, filepath.Join(dir, l.Name)); err != nil {
			return err
		}
	}
	return nil
}

// lookPath finds argv0 as the command would see it: with a slash, relative
// to the working directory; without, in PATH.
func lookPath(argv0, dir, pathEnv string) (string, error) {
	if strings.Contains(argv0, "/") {
		if !filepath.IsAbs(argv0) {
			return filepath.Join(dir, argv0), nil
		}
		return argv0, nil
	}
	for _, p := range filepath.SplitList(pathEnv) {
		if p == "" {
			p = "."
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		f := filepath.Join(p, argv0)
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return f, nil
		}
	}
	return "", fmt.Errorf("%q not found in PATH %q", argv0, pathEnv)
}

// run executes the action for real and returns the response of the
// completed operation.
func (s *Server) run(serverCtx context.Context, req *repb.ExecuteRequest, action *repb.Action, cmd *repb.Command) *repb.ExecuteResponse {
	meta := &repb.ExecutedActionMetadata{Worker: "remotetest", QueuedTimestamp: timestamppb.Now()}
	fail := func(err error) *repb.ExecuteResponse {
		return &repb.ExecuteResponse{Status: statusProto(err)}
	}
	inName := req.InstanceName
	meta.InputFetchStartTimestamp = timestamppb.Now()
	t, err := s.readInputTree(inName, action.InputRootDigest)
	if err != nil {
		return fail(err)
	}
	if len(t.missing) > 0 {
		return &repb.ExecuteResponse{Status: missingError(fmt.Sprintf("%d input blobs missing from the CAS", len(t.missing)), t.missing).Proto()}
	}
	root, err := os.MkdirTemp(s.opts.WorkDir, "remotetest-exec-")
	if err != nil {
		return fail(errorf(codes.Internal, "%v", err))
	}
	defer os.RemoveAll(root)
	if err := s.materialize(inName, t, action.InputRootDigest, root); err != nil {
		return fail(errorf(codes.Internal, "materializing the input root: %v", err))
	}
	meta.InputFetchCompletedTimestamp = timestamppb.Now()
	workDir := filepath.Join(root, filepath.FromSlash(cmd.WorkingDirectory))
	if st, err := os.Stat(workDir); err != nil || !st.IsDir() {
		return fail(errorf(codes.InvalidArgument, "working_directory %q is not a directory of the input root", cmd.WorkingDirectory))
	}
	for _, p := range cmd.OutputPaths {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(workDir, p)), 0o755); err != nil {
			return fail(errorf(codes.InvalidArgument, "creating the parent of output %q: %v", p, err))
		}
	}

	var env []string
	pathEnv, hasPath := "", false
	for _, v := range cmd.EnvironmentVariables {
		env = append(env, v.Name+"="+v.Value)
		if v.Name == "PATH" {
			pathEnv, hasPath = v.Value, true
		}
	}
	if !hasPath {
		pathEnv = s.opts.PATH
	}
	if env == nil {
		env = []string{} // not nil: nil would mean the server's environment
	}
	prog, err := lookPath(cmd.Arguments[0], workDir, pathEnv)
	if err != nil {
		return fail(errorf(codes.InvalidArgument, "cannot run the command: %v", err))
	}

	ctx := serverCtx
	if to := action.Timeout.AsDuration(); action.Timeout != nil && to > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, to)
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, prog)
	c.Args = cmd.Arguments
	if len(s.opts.Wrapper) > 0 {
		c = exec.CommandContext(ctx, s.opts.Wrapper[0])
		c.Args = append(append(slices.Clone(s.opts.Wrapper), prog), cmd.Arguments[1:]...)
	}
	c.Dir = workDir
	c.Env = env
	c.Stdout = &stdout
	c.Stderr = &stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	meta.WorkerStartTimestamp = timestamppb.Now()
	meta.ExecutionStartTimestamp = timestamppb.Now()
	s.mu.Lock()
	s.stats.Executions++
	s.mu.Unlock()
	runErr := c.Run()
	meta.ExecutionCompletedTimestamp = timestamppb.Now()
	exitCode := 0
	var st *spb.Status
	if runErr != nil {
		var ee *exec.ExitError
		switch {
		case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			st = statusProto(errorf(codes.DeadlineExceeded, "action timed out after %v", action.Timeout.AsDuration()))
			exitCode = -1
		case serverCtx.Err() != nil:
			return fail(errorf(codes.Unavailable, "server stopped"))
		case errors.As(runErr, &ee):
			exitCode = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				exitCode = 128 + int(ws.Signal())
			}
		default:
			return fail(errorf(codes.InvalidArgument, "cannot run the command: %v", runErr))
		}
	}

	meta.OutputUploadStartTimestamp = timestamppb.Now()
	blobs := map[string][]byte{}
	put := func(b []byte) *repb.Digest {
		d := DigestOf(b)
		blobs[key(d)] = b
		return d
	}
	result := &repb.ActionResult{ExitCode: int32(exitCode)}
	result.StdoutDigest = put(stdout.Bytes())
	result.StderrDigest = put(stderr.Bytes())
	for _, p := range cmd.OutputPaths {
		full := filepath.Join(workDir, p)
		fi, err := os.Lstat(full)
		if err != nil {
			continue // outputs that were not created are left out
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return fail(errorf(codes.Internal, "%v", err))
			}
			result.OutputSymlinks = append(result.OutputSymlinks, &repb.OutputSymlink{Path: p, Target: target})
		case fi.IsDir():
			tree := &repb.Tree{}
			rootDir, err := treeOf(full, tree, put, map[string]bool{})
			if err != nil {
				return fail(errorf(codes.Internal, "collecting output directory %q: %v", p, err))
			}
			tree.Root = rootDir
			od := &repb.OutputDirectory{Path: p}
			if cmd.OutputDirectoryFormat != repb.Command_DIRECTORY_ONLY {
				td, tb := DigestOfMessage(tree)
				blobs[key(td)] = tb
				od.TreeDigest = td
			}
			if cmd.OutputDirectoryFormat != repb.Command_TREE_ONLY {
				for _, dir := range append([]*repb.Directory{rootDir}, tree.Children...) {
					dd, db := DigestOfMessage(dir)
					blobs[key(dd)] = db
				}
				od.RootDirectoryDigest, _ = DigestOfMessage(rootDir)
			}
			result.OutputDirectories = append(result.OutputDirectories, od)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(full)
			if err != nil {
				return fail(errorf(codes.Internal, "%v", err))
			}
			result.OutputFiles = append(result.OutputFiles, &repb.OutputFile{Path: p, Digest: put(b), IsExecutable: fi.Mode()&0o111 != 0})
		}
	}
	meta.OutputUploadCompletedTimestamp = timestamppb.Now()
	meta.WorkerCompletedTimestamp = timestamppb.Now()
	result.ExecutionMetadata = meta

	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.inst(inName)
	for k, b := range blobs {
		in.cas[k] = b
	}
	if st == nil && exitCode == 0 && !action.DoNotCache {
		in.ac[key(req.ActionDigest)] = proto.Clone(result).(*repb.ActionResult)
	}
	if st == nil {
		st = statusProto(nil)
	}
	return &repb.ExecuteResponse{
		Result: s.inline(in, result, req.InlineStdout, req.InlineStderr, req.InlineOutputFiles),
		Status: st,
	}
}

// treeOf builds the Directory for dir, appending each distinct descendant
// Directory to tree.Children and each file to the blobs through put.
func treeOf(dir string, tree *repb.Tree, put func([]byte) *repb.Digest, seen map[string]bool) (*repb.Directory, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	d := &repb.Directory{}
	for _, e := range ents { // sorted by name
		full := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(full)
		if err != nil {
			return nil, err
		}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return nil, err
			}
			d.Symlinks = append(d.Symlinks, &repb.SymlinkNode{Name: e.Name(), Target: target})
		case fi.IsDir():
			sub, err := treeOf(full, tree, put, seen)
			if err != nil {
				return nil, err
			}
			sd, _ := DigestOfMessage(sub)
			if !seen[key(sd)] {
				seen[key(sd)] = true
				tree.Children = append(tree.Children, sub)
			}
			d.Directories = append(d.Directories, &repb.DirectoryNode{Name: e.Name(), Digest: sd})
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(full)
			if err != nil {
				return nil, err
			}
			d.Files = append(d.Files, &repb.FileNode{Name: e.Name(), Digest: put(b), IsExecutable: fi.Mode()&0o111 != 0})
		}
	}
	return d, nil
}
