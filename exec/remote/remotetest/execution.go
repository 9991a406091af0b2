package remotetest

import (
	"bld/exec/crash"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	lpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// executionServer implements Execution.
type executionServer struct {
	repb.UnimplementedExecutionServer
	s *Server
}

// operation is one Execute: its name, and its state once done.
type operation struct {
	name         string
	instance     string
	actionDigest *repb.Digest
	done         chan struct{} // closed when final is set
	final        *lpb.Operation
	queued       atomic.Bool // no worker took it yet (Options.HoldQueued)
}

// running is the operation message while the action runs.
func (op *operation) running() *lpb.Operation {
	stage := repb.ExecutionStage_EXECUTING
	if op.queued.Load() {
		stage = repb.ExecutionStage_QUEUED
	}
	md, _ := anypb.New(&repb.ExecuteOperationMetadata{
		Stage:          stage,
		ActionDigest:   op.actionDigest,
		DigestFunction: repb.DigestFunction_SHA256,
	})
	return &lpb.Operation{Name: op.name, Metadata: md}
}

// finish sets the final operation and wakes the waiters. s.mu must be held
// once op is published in s.ops.
func (op *operation) finish(resp *repb.ExecuteResponse) {
	md, _ := anypb.New(&repb.ExecuteOperationMetadata{
		Stage:          repb.ExecutionStage_COMPLETED,
		ActionDigest:   op.actionDigest,
		DigestFunction: repb.DigestFunction_SHA256,
	})
	r, _ := anypb.New(resp)
	op.final = &lpb.Operation{Name: op.name, Metadata: md, Done: true, Result: &lpb.Operation_Response{Response: r}}
	close(op.done)
}

func newOperationName() string {
	var b [16]byte
	rand.Read(b[:])
	return "operations/" + hex.EncodeToString(b[:])
}

// Execute runs an action, or answers it from the action cache.
//
// Errors found before the operation exists are the RPC's status: an
// Action or Command missing from the CAS (FAILED_PRECONDITION with MISSING
// violations), a malformed Action or Command (INVALID_ARGUMENT; this
// includes a Command using the deprecated output_files/output_directories
// instead of output_paths, and unsorted output paths, environment or
// platform), a platform no worker has (FAILED_PRECONDITION). Errors found
// while running, as a worker finds them, are the status of the
// ExecuteResponse of a completed operation: inputs missing from the CAS
// (FAILED_PRECONDITION with MISSING violations), a malformed input root or
// a command that cannot start (INVALID_ARGUMENT), a timeout
// (DEADLINE_EXCEEDED, with the output so far). Options.MissingInputsAsRPCError
// moves the missing inputs to the first group.
//
// The stream sends the operation once when it starts (stage EXECUTING),
// every ExecuteUpdateInterval while it runs, and once done. A cache hit
// sends only the done operation, with cached_result set.
func (e executionServer) Execute(req *repb.ExecuteRequest, stream grpc.ServerStreamingServer[lpb.Operation]) error {
	s := e.s
	if !s.opts.Exec {
		return errorf(codes.Unimplemented, "execution is not enabled on this server")
	}
	s.mu.Lock()
	refuse := s.opts.RefuseExecution
	s.mu.Unlock()
	if refuse != codes.OK {
		return errorf(refuse, "refusing execution (test knob)")
	}
	if err := checkDigestFunction(req.DigestFunction); err != nil {
		return err
	}
	if err := checkDigest(req.ActionDigest, "action_digest"); err != nil {
		return err
	}
	action := &repb.Action{}
	if st := s.loadMessage(req.InstanceName, req.ActionDigest, action, "Action"); st != nil {
		return st.Err()
	}
	if err := checkDigest(action.CommandDigest, "action.command_digest"); err != nil {
		return err
	}
	if err := checkDigest(action.InputRootDigest, "action.input_root_digest"); err != nil {
		return err
	}
	cmd := &repb.Command{}
	if st := s.loadMessage(req.InstanceName, action.CommandDigest, cmd, "Command"); st != nil {
		return st.Err()
	}
	if err := checkCommand(cmd); err != nil {
		return err
	}
	platform := action.Platform
	if platform == nil {
		platform = cmd.Platform
	} else if cmd.Platform != nil && !proto.Equal(platform, cmd.Platform) {
		return errorf(codes.InvalidArgument, "Action.platform %v differs from Command.platform %v", platformString(action.Platform), platformString(cmd.Platform))
	}
	if err := checkPlatform(platform); err != nil {
		return err
	}
	if err := s.matchWorker(req.InstanceName, platform); err != nil {
		return err
	}

	op := &operation{
		name:         newOperationName(),
		instance:     req.InstanceName,
		actionDigest: req.ActionDigest,
		done:         make(chan struct{}),
	}
	if !req.SkipCacheLookup {
		s.mu.Lock()
		in := s.inst(req.InstanceName)
		r := in.ac[key(req.ActionDigest)]
		if r != nil && len(s.missingBlobs(in, r)) == 0 {
			s.stats.ExecuteCacheHits++
			r = s.inline(in, r, req.InlineStdout, req.InlineStderr, req.InlineOutputFiles)
			op.finish(&repb.ExecuteResponse{Result: r, CachedResult: true, Status: statusProto(nil)})
			s.ops[op.name] = op
			final := op.final
			s.mu.Unlock()
			return stream.Send(final)
		}
		s.mu.Unlock()
	}

	if s.opts.MissingInputsAsRPCError {
		t, err := s.readInputTree(req.InstanceName, action.InputRootDigest)
		if err != nil {
			return err
		}
		if len(t.missing) > 0 {
			return missingError(fmt.Sprintf("%d input blobs missing from the CAS", len(t.missing)), t.missing).Err()
		}
	}

	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return errorf(codes.Unavailable, "server stopping")
	}
	s.ops[op.name] = op
	s.running.Add(1)
	runCtx := s.ctx
	s.executed = append(s.executed, ExecutedAction{Instance: req.InstanceName, ActionDigest: req.ActionDigest, Action: action, Command: cmd})
	s.mu.Unlock()
	op.queued.Store(s.holdQueued())
	crash.Go(func() {
		defer s.running.Done()
		for s.holdQueued() {
			select {
			case <-runCtx.Done():
				s.mu.Lock()
				op.finish(&repb.ExecuteResponse{Status: status.New(codes.Unavailable, "server stopping").Proto()})
				s.mu.Unlock()
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		op.queued.Store(false)
		resp := s.run(runCtx, req, action, cmd)
		s.mu.Lock()
		op.finish(resp)
		s.mu.Unlock()
	})
	return s.streamOperation(stream, op, true)
}

// streamOperation sends op's state until it is done. For Execute streams
// (execute set) it applies the DropExecuteStreamAfter knob.
func (s *Server) streamOperation(stream grpc.ServerStreamingServer[lpb.Operation], op *operation, execute bool) error {
	s.mu.Lock()
	dropAfter := s.opts.DropExecuteStreamAfter
	interval := s.opts.ExecuteUpdateInterval
	s.mu.Unlock()
	if !execute {
		dropAfter = 0
	}
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	sent := 0
	send := func(m *lpb.Operation) error {
		if err := stream.Send(m); err != nil {
			return err
		}
		sent++
		return nil
	}
	select {
	case <-op.done:
	default:
		if err := send(op.running()); err != nil {
			return err
		}
	}
	for {
		if dropAfter > 0 && sent >= dropAfter {
			select {
			case <-op.done:
			default:
				return errorf(codes.Unavailable, "Execute stream of %s dropped after %d messages (test knob); use WaitExecution", op.name, sent)
			}
		}
		select {
		case <-op.done:
			s.mu.Lock()
			final := op.final
			s.mu.Unlock()
			return send(final)
		case <-tick:
			if err := send(op.running()); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return status.FromContextError(stream.Context().Err()).Err()
		}
	}
}

// WaitExecution streams the state of an operation started by Execute: the
// current state, then the final one. NOT_FOUND for an unknown operation, or
// for every operation under Options.ForgetOperations.
func (e executionServer) WaitExecution(req *repb.WaitExecutionRequest, stream grpc.ServerStreamingServer[lpb.Operation]) error {
	s := e.s
	if !s.opts.Exec {
		return errorf(codes.Unimplemented, "execution is not enabled on this server")
	}
	s.mu.Lock()
	op := s.ops[req.Name]
	forget := s.opts.ForgetOperations
	s.mu.Unlock()
	if op == nil || forget {
		return errorf(codes.NotFound, "operation %q not found; Execute the action again", req.Name)
	}
	return s.streamOperation(stream, op, false)
}

// loadMessage reads a message from the CAS for Execute; a missing blob is
// FAILED_PRECONDITION with a MISSING violation.
func (s *Server) loadMessage(inName string, d *repb.Digest, m proto.Message, what string) *status.Status {
	s.mu.Lock()
	b, ok := s.inst(inName).cas[key(d)]
	s.mu.Unlock()
	if !ok && key(d) != key(DigestOf(nil)) {
		return missingError(fmt.Sprintf("%s %s not in the CAS of instance %q", what, key(d), inName), []*repb.Digest{d})
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return status.New(codes.InvalidArgument, fmt.Sprintf("remotetest: blob %s is not a %s: %v", key(d), what, err))
	}
	return nil
}

// checkRelPath checks a path relative to the input root or working
// directory: not absolute, no "." or ".." or empty components.
func checkRelPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return errorf(codes.InvalidArgument, "path %q: want a relative path without a trailing slash", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." || c == ".." {
			return errorf(codes.InvalidArgument, "path %q: component %q not allowed", p, c)
		}
	}
	return nil
}

// checkOutputPath checks an output path, relative to the working
// directory wd: relative, no trailing slash, no empty or "." components,
// and ".." only as long as the path stays inside the input root.
func checkOutputPath(wd, p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return errorf(codes.InvalidArgument, "path %q: want a relative path without a trailing slash", p)
	}
	depth := 0
	if wd != "" {
		depth = len(strings.Split(wd, "/"))
	}
	for _, c := range strings.Split(p, "/") {
		switch c {
		case "", ".":
			return errorf(codes.InvalidArgument, "path %q: component %q not allowed", p, c)
		case "..":
			depth--
			if depth < 0 {
				return errorf(codes.InvalidArgument, "path %q leaves the input root", p)
			}
		default:
			depth++
		}
	}
	if depth == 0 {
		return errorf(codes.InvalidArgument, "path %q is the input root", p)
	}
	return nil
}

// checkCommand enforces what Buildbarn and the spec require of a Command.
func checkCommand(cmd *repb.Command) error {
	if len(cmd.Arguments) == 0 {
		return errorf(codes.InvalidArgument, "Command has no arguments")
	}
	// With output_paths set, the spec says the deprecated fields are
	// ignored (a client may set both, for servers before v2.1); without
	// it, current Buildbarn runs the command and returns no outputs, which
	// a strict server turns into an error.
	if len(cmd.OutputPaths) == 0 && (len(cmd.OutputFiles) > 0 || len(cmd.OutputDirectories) > 0) {
		return errorf(codes.InvalidArgument, "Command uses only the deprecated output_files/output_directories (%d/%d entries); set output_paths (REAPI v2.1+)", len(cmd.OutputFiles), len(cmd.OutputDirectories))
	}
	for i, p := range cmd.OutputPaths {
		if err := checkOutputPath(cmd.WorkingDirectory, p); err != nil {
			return errorf(codes.InvalidArgument, "output_paths[%d]: %v", i, status.Convert(err).Message())
		}
		if i > 0 && cmd.OutputPaths[i-1] >= p {
			return errorf(codes.InvalidArgument, "output_paths must be sorted and unique: %q before %q", cmd.OutputPaths[i-1], p)
		}
	}
	for i, v := range cmd.EnvironmentVariables {
		if v.Name == "" || strings.Contains(v.Name, "=") {
			return errorf(codes.InvalidArgument, "environment_variables[%d]: bad name %q", i, v.Name)
		}
		if i > 0 && cmd.EnvironmentVariables[i-1].Name >= v.Name {
			return errorf(codes.InvalidArgument, "environment_variables must be sorted by name and unique: %q before %q", cmd.EnvironmentVariables[i-1].Name, v.Name)
		}
	}
	if cmd.WorkingDirectory != "" {
		if err := checkRelPath(cmd.WorkingDirectory); err != nil {
			return errorf(codes.InvalidArgument, "working_directory: %v", status.Convert(err).Message())
		}
	}
	return nil
}

// checkPlatform checks that properties are sorted by name, then value.
func checkPlatform(p *repb.Platform) error {
	props := p.GetProperties()
	for i := 1; i < len(props); i++ {
		a, b := props[i-1], props[i]
		if a.Name > b.Name || a.Name == b.Name && a.Value >= b.Value {
			return errorf(codes.InvalidArgument, "platform properties must be sorted by name, then value, and unique: %s", platformString(p))
		}
	}
	return nil
}

// matchWorker checks that some worker has exactly the platform p.
func (s *Server) matchWorker(inName string, p *repb.Platform) error {
	if s.opts.Platforms == nil {
		return nil
	}
	want := platformString(p)
	var have []string
	for _, w := range s.opts.Platforms {
		ws := platformString(w)
		if ws == want {
			return nil
		}
		have = append(have, ws)
	}
	code := s.opts.NoWorkerCode
	if code == codes.OK {
		code = codes.FailedPrecondition
	}
	return errorf(code, "no workers exist for instance name %q with platform %s; workers have %s", inName, want, strings.Join(have, ", "))
}

// platformString formats a platform as a sorted, canonical set of
// name=value pairs, e.g. {OSFamily=linux, cpu=x86_64}.
func platformString(p *repb.Platform) string {
	var kv []string
	for _, pr := range p.GetProperties() {
		kv = append(kv, pr.Name+"="+pr.Value)
	}
	sort.Strings(kv)
	kv = slices.Compact(kv)
	return "{" + strings.Join(kv, ", ") + "}"
}

// holdQueued reports Options.HoldQueued.
func (s *Server) holdQueued() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.HoldQueued
}
