// Package remotetest is an in-process Remote Execution API v2 server for
// tests of bld's remote cache and remote execution client. It is test code:
// only _test.go files and bench programs import it, never the bld binary.
//
// The server is deliberately strict. It enforces what the real servers
// (Buildbarn, bazel-remote) enforce, and the MUSTs of the REAPI spec that
// they rely on, so that a client bug shows up as a failing test instead of
// a failing build on somebody's farm:
//
//   - digests are SHA-256 only, hashes are 64 lowercase hex digits, sizes
//     are checked against the data everywhere data arrives (BatchUpdateBlobs,
//     ByteStream Write);
//   - batch RPCs are bounded by max_batch_total_size_bytes when advertised
//     (INVALID_ARGUMENT above it), and by a hidden 4 MiB gRPC message limit
//     when not (RESOURCE_EXHAUSTED from the transport, as with any grpc-go
//     server left at its defaults);
//   - GetActionResult answers NOT_FOUND when any blob the result references
//     is missing (bazel-remote's completeness check); UpdateActionResult
//     refuses results whose blobs are not in the CAS;
//   - Execute checks the Action, the Command (output_paths only, sorted and
//     unique; sorted environment and platform), the input root (sorted,
//     unique, valid names) and the platform against the workers configured;
//     it then runs the command for real in a temporary directory holding
//     exactly the input root, with exactly the Command's environment. Input
//     files are read-only (as with Buildbarn's hardlinking workers); the
//     parents of outputs are created; argv[0] is looked up in the Command's
//     PATH (or Options.PATH), relative to the working directory when it has
//     a slash.
//
// Data (CAS, action cache, uploads) is kept per instance name, so a test can
// check which instance name a client sends. Operations are global.
//
// Use:
//
//	s, err := remotetest.Start(remotetest.Options{Exec: true, MaxBatchTotalSizeBytes: 1 << 20})
//	defer s.Stop()
//	... point the client at s.Target() ("grpc://127.0.0.1:PORT") ...
//	st := s.Stats() // executions, cache hits, blobs and bytes by RPC kind, batch sizes
//
// Faults for tests are knobs of Options, and can be changed while the server
// runs with the Set* methods (SetDelay, SetRefuseExecution,
// SetDropExecuteStreamAfter, SetForgetOperations), CorruptBlob, DeleteBlob
// and FailNext, all safe for concurrent use. Kill (= Stop) ends the server
// abruptly; Restart serves again on the same address with the CAS and action
// cache kept. NewTestCerts makes a CA and certificates for TLS and mTLS.
// Calls, HeaderValues and Executed tell what clients sent.
//
// Not offered: compression (no compressor advertised; compressed-blobs
// resources are refused), digest functions other than SHA256, blob
// splitting and splicing, priorities, server logs, and streaming
// stdout/stderr while an action runs.
package remotetest

import (
	"bld/exec/crash"
	"context"
	"crypto/tls"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// HiddenMessageLimit is the gRPC receive limit the server applies when
// Options.MaxBatchTotalSizeBytes is 0 (not advertised): grpc-go's default,
// which is what a real server left at its defaults enforces. A request
// larger than this fails with RESOURCE_EXHAUSTED before reaching a handler.
const HiddenMessageLimit = 4 << 20

// Options configures a Server. The zero value is a cache-only server
// (no execution) speaking REAPI 2.0–2.3 on 127.0.0.1 with a random port.
type Options struct {
	// Listen is the address to listen on; default "127.0.0.1:0".
	Listen string

	// LowAPIVersion and HighAPIVersion are advertised by GetCapabilities,
	// as "MAJOR.MINOR"; defaults "2.0" and "2.3".
	LowAPIVersion, HighAPIVersion string

	// MaxBatchTotalSizeBytes is advertised in CacheCapabilities and enforced
	// on BatchUpdateBlobs (total data, and whole serialized request) and
	// BatchReadBlobs (total size of the digests asked for) with
	// INVALID_ARGUMENT. 0 means "not advertised": then the hidden limit of
	// HiddenMessageLimit applies to every whole request at the transport
	// (RESOURCE_EXHAUSTED), and BatchReadBlobs asking for more than that in
	// total gets INVALID_ARGUMENT (the response could not be received).
	MaxBatchTotalSizeBytes int64

	// DisableACUpdate makes the action cache read-only for clients
	// (UpdateActionResult → PERMISSION_DENIED, update_enabled=false), as
	// Buildbarn configured for remote execution only.
	DisableACUpdate bool

	// NoInlineFiles ignores inline_output_files (the spec lets a server
	// inline nothing it is asked to): the client reads the files.
	NoInlineFiles bool

	// Exec enables the Execution service (exec_enabled in capabilities).
	// Without it Execute and WaitExecution return UNIMPLEMENTED.
	Exec bool

	// Platforms lists the platforms of the workers. An action runs only if
	// its platform equals one of them as a set of (name, value) pairs
	// (Buildbarn's rule); otherwise Execute fails with FAILED_PRECONDITION
	// naming the platform. nil accepts any platform. The action's platform
	// is Action.platform, or Command.platform when that is unset; when both
	// are set they must be equal (INVALID_ARGUMENT otherwise).
	Platforms []*repb.Platform
	// NoWorkerCode is the code of that failure; 0 means
	// FAILED_PRECONDITION. Buildbarn answers UNAVAILABLE ("No workers
	// exist for instance name ..."), which a client must not retry.
	NoWorkerCode codes.Code

	// PATH is the PATH used when the Command's environment has none (the
	// command still sees no PATH variable); default "/usr/bin:/bin".
	PATH string

	// Wrapper, if not empty, is a command line every command runs under,
	// with the command's resolved program and arguments appended: a test
	// makes a worker without a compiler by hiding it in a mount namespace
	// (unshare -Urm sh -c 'mount -t tmpfs none /usr/lib/gcc && exec "$@"' sh).
	Wrapper []string

	// HoldQueued keeps every new action QUEUED: no worker takes it (a
	// scheduler whose workers are gone), and the Execute stream stays
	// alive with QUEUED updates every ExecuteUpdateInterval. Clearing it
	// (SetHoldQueued) lets the held actions run.
	HoldQueued bool

	// WorkDir is where execution roots are created; default os.TempDir().
	WorkDir string

	// ReadChunkSize is the size of ByteStream Read chunks; default 64 KiB.
	ReadChunkSize int

	// TLS, when set, serves TLS with this configuration (set ClientAuth and
	// ClientCAs for mTLS). See NewTestCerts.
	TLS *tls.Config

	// ExecuteUpdateInterval, when > 0, makes Execute and WaitExecution send
	// the running operation again at this interval, as real servers do to
	// keep streams alive.
	ExecuteUpdateInterval time.Duration

	// WriteEarlyReturn makes ByteStream Write of a blob the CAS already
	// holds answer at once, after the first message, with committed_size
	// set to the blob's size, as the spec allows and bazel-remote does. The
	// client's next Send then returns io.EOF and it must call CloseAndRecv
	// for the response.
	WriteEarlyReturn bool

	// MissingInputsAsRPCError makes Execute check the input root before it
	// creates the operation and report missing inputs as the RPC's status
	// (FAILED_PRECONDITION with MISSING violations), as a scheduler that
	// checks inputs up front does, instead of in the ExecuteResponse of a
	// completed operation, as Buildbarn's workers do. Clients must handle
	// both.
	MissingInputsAsRPCError bool

	// Fault knobs; each has a Set* method for changing it while running.

	// Delay is slept at the start of every RPC (a slow server).
	Delay time.Duration
	// RefuseExecution, when not codes.OK, makes Execute fail with this code
	// before doing anything (WaitExecution is unaffected).
	RefuseExecution codes.Code
	// DropExecuteStreamAfter, when > 0, ends an Execute stream with
	// UNAVAILABLE after that many messages when the operation is not done
	// yet; the action keeps running and the client must WaitExecution.
	DropExecuteStreamAfter int
	// ForgetOperations makes WaitExecution answer NOT_FOUND for every
	// operation (a restarted scheduler), so the client must Execute again.
	ForgetOperations bool
}

// Server is a running REAPI server. Methods are safe for concurrent use.
type Server struct {
	addr string // fixed at Start, kept by Restart

	// life serializes Stop and Restart; lis, grpc, ctx and cancel change
	// only under both life and mu.
	life    sync.Mutex
	lis     net.Listener
	grpc    *grpc.Server
	ctx     context.Context // cancelled by Stop: ends running actions
	cancel  context.CancelFunc
	stopped bool

	mu        sync.Mutex
	opts      Options
	failures  map[string]*failure // injected errors by short method name ("" = any)
	executed  []ExecutedAction
	instances map[string]*instance
	ops       map[string]*operation
	corrupt   map[string]bool // digest keys whose reads return wrong bytes
	stats     Stats
	calls     []Call
	headers   map[string]map[string]bool
	running   sync.WaitGroup
}

// instance is the data kept for one instance name.
type instance struct {
	cas     map[string][]byte             // digest key → data
	ac      map[string]*repb.ActionResult // action digest key → result
	uploads map[string]*upload            // ByteStream upload resource → partial data
}

type upload struct {
	data     []byte
	complete bool
}

// Call is one RPC as received, for assertions on headers.
type Call struct {
	Method string      // full method, e.g. "/build.bazel.remote.execution.v2.Execution/Execute"
	Header metadata.MD // incoming metadata
	// RequestMetadata is the decoded build.bazel.remote.execution.v2.requestmetadata-bin
	// header, nil when absent or undecodable.
	RequestMetadata *repb.RequestMetadata
}

// Stats are counters for assertions. Bytes are blob payload bytes.
type Stats struct {
	RPCs map[string]int64 // by short method name, e.g. "BatchUpdateBlobs"

	Executions       int64 // actions run (not cache hits)
	ExecuteCacheHits int64 // Execute answered from the action cache
	ACHits           int64 // GetActionResult found a complete result
	ACMisses         int64 // GetActionResult answered NOT_FOUND
	ACUpdates        int64 // UpdateActionResult accepted

	BatchUpdateBlobs, BatchUpdateBytes         int64
	ByteStreamWriteBlobs, ByteStreamWriteBytes int64
	ByteStreamWriteEarlyReturns                int64 // writes ended early (Options.WriteEarlyReturn)
	BatchReadBlobs, BatchReadBytes             int64
	ByteStreamReadBlobs, ByteStreamReadBytes   int64

	// MaxBatchUpdateBytes and MaxBatchReadBytes are the largest total blob
	// payload seen in one accepted batch request; MaxBatchRequestBytes the
	// largest serialized BatchUpdateBlobsRequest.
	MaxBatchUpdateBytes, MaxBatchReadBytes, MaxBatchRequestBytes int64
	MaxBatchUpdateCount, MaxBatchReadCount                       int
}

// Start starts a server listening on Options.Listen (default 127.0.0.1:0).
func Start(opts Options) (*Server, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.LowAPIVersion == "" {
		opts.LowAPIVersion = "2.0"
	}
	if opts.HighAPIVersion == "" {
		opts.HighAPIVersion = "2.3"
	}
	for _, v := range []string{opts.LowAPIVersion, opts.HighAPIVersion} {
		if _, err := parseSemVer(v); err != nil {
			return nil, err
		}
	}
	if opts.PATH == "" {
		opts.PATH = "/usr/bin:/bin"
	}
	if opts.ReadChunkSize <= 0 {
		opts.ReadChunkSize = 64 << 10
	}
	s := &Server{
		opts:      opts,
		instances: map[string]*instance{},
		ops:       map[string]*operation{},
		corrupt:   map[string]bool{},
		headers:   map[string]map[string]bool{},
		failures:  map[string]*failure{},
	}
	s.stats.RPCs = map[string]int64{}
	s.stopped = true
	if err := s.serve(opts.Listen); err != nil {
		return nil, err
	}
	s.addr = s.lis.Addr().String()
	return s, nil
}

// serve starts a gRPC server on addr. s.life must be held or s unshared.
func (s *Server) serve(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	opts := s.opts
	s.mu.Unlock()
	recv := HiddenMessageLimit
	if l := opts.MaxBatchTotalSizeBytes; l > 0 && l+(1<<20) > int64(recv) {
		// Let over-limit batches reach the handler so they get the
		// INVALID_ARGUMENT real servers answer with.
		recv = int(l + (1 << 20))
	}
	sopts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(recv),
		grpc.UnaryInterceptor(s.unaryInterceptor),
		grpc.StreamInterceptor(s.streamInterceptor),
	}
	if opts.TLS != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	g := grpc.NewServer(sopts...)
	repb.RegisterCapabilitiesServer(g, capabilitiesServer{s})
	repb.RegisterContentAddressableStorageServer(g, casServer{s: s})
	repb.RegisterActionCacheServer(g, acServer{s: s})
	bspb.RegisterByteStreamServer(g, byteStreamServer{s: s})
	repb.RegisterExecutionServer(g, executionServer{s: s})
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.lis, s.grpc, s.ctx, s.cancel, s.stopped = lis, g, ctx, cancel, false
	s.mu.Unlock()
	crash.Go(func() { g.Serve(lis) })
	return nil
}

// Addr is the address the server listens on, "127.0.0.1:PORT". Clients
// use the target "grpc://"+Addr() (or "grpcs://" with TLS). It stays the
// same across Restart.
func (s *Server) Addr() string { return s.addr }

// Target is the target a client dials: "grpc://"+Addr(), or
// "grpcs://"+Addr() when the server serves TLS.
func (s *Server) Target() string {
	if s.opts.TLS != nil {
		return "grpcs://" + s.addr
	}
	return "grpc://" + s.addr
}

// Stop stops the server abruptly: the listener and every connection are
// closed at once, streams in flight fail with UNAVAILABLE on the client, and
// running actions are killed. It waits for running actions to end. Data
// stays readable through the Server's inspection methods. Stop may be
// called more than once.
func (s *Server) Stop() {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.cancel() // under s.mu: Execute checks s.ctx under s.mu before running.Add
	g := s.grpc
	s.mu.Unlock()
	g.Stop()
	s.running.Wait()
}

// Kill is Stop, named for fault tests that kill the server mid-build.
func (s *Server) Kill() { s.Stop() }

// Restart stops the server abruptly if it runs (see Stop) and serves again
// on the same address, like a server process restarted with persistent
// storage: the CAS and the action cache are kept, operations are forgotten
// (WaitExecution of an earlier operation is NOT_FOUND).
func (s *Server) Restart() error {
	s.Stop()
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	s.ops = map[string]*operation{}
	s.mu.Unlock()
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly
		if err = s.serve(s.addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.RPCs = make(map[string]int64, len(s.stats.RPCs))
	for k, v := range s.stats.RPCs {
		st.RPCs[k] = v
	}
	return st
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{RPCs: map[string]int64{}}
}

// Calls returns the RPCs received so far (the most recent 10000), in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// HeaderValues returns the distinct values seen for a request header (the
// key is lower-cased, as gRPC transmits it) across all RPCs, sorted.
func (s *Server) HeaderValues(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vs []string
	for v := range s.headers[strings.ToLower(key)] {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

// SetHoldQueued sets Options.HoldQueued.
func (s *Server) SetHoldQueued(b bool) { s.mu.Lock(); s.opts.HoldQueued = b; s.mu.Unlock() }

// SetDelay sets Options.Delay.
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.opts.Delay = d; s.mu.Unlock() }

// SetRefuseExecution sets Options.RefuseExecution (codes.OK to accept again).
func (s *Server) SetRefuseExecution(c codes.Code) {
	s.mu.Lock()
	s.opts.RefuseExecution = c
	s.mu.Unlock()
}

// SetDropExecuteStreamAfter sets Options.DropExecuteStreamAfter (0 disables).
func (s *Server) SetDropExecuteStreamAfter(n int) {
	s.mu.Lock()
	s.opts.DropExecuteStreamAfter = n
	s.mu.Unlock()
}

// SetForgetOperations sets Options.ForgetOperations.
func (s *Server) SetForgetOperations(b bool) {
	s.mu.Lock()
	s.opts.ForgetOperations = b
	s.mu.Unlock()
}

type failure struct {
	n    int
	code codes.Code
}

// FailNext makes the next n calls of a method fail with code before they
// reach the service, as a flaky network or an overloaded server would
// (UNAVAILABLE, RESOURCE_EXHAUSTED, ...). method is the short method name
// ("BatchUpdateBlobs", "Write", "Execute", "GetActionResult", ...), or ""
// for calls of any method. n <= 0 clears it.
func (s *Server) FailNext(method string, n int, code codes.Code) {
	s.mu.Lock()
	s.failures[method] = &failure{n: n, code: code}
	s.mu.Unlock()
}

// ExecutedAction is an action the server ran (not a cache hit).
type ExecutedAction struct {
	Instance     string
	ActionDigest *repb.Digest
	Action       *repb.Action
	Command      *repb.Command
}

// Executed returns the actions run so far, in the order they started.
func (s *Server) Executed() []ExecutedAction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ExecutedAction(nil), s.executed...)
}

// CorruptBlob makes every read of the blob with digest d (BatchReadBlobs,
// ByteStream Read, inline contents in GetActionResult) return wrong bytes of
// the right length, in every instance. The stored data is untouched, so
// execution still sees the right bytes.
func (s *Server) CorruptBlob(d *repb.Digest) {
	s.mu.Lock()
	s.corrupt[key(d)] = true
	s.mu.Unlock()
}

// HealBlob undoes CorruptBlob.
func (s *Server) HealBlob(d *repb.Digest) {
	s.mu.Lock()
	delete(s.corrupt, key(d))
	s.mu.Unlock()
}

// Blob returns the stored bytes of d in instance, and whether present.
func (s *Server) Blob(instanceName string, d *repb.Digest) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.inst(instanceName).cas[key(d)]
	return b, ok
}

// PutBlob stores data in instance's CAS and returns its digest.
func (s *Server) PutBlob(instanceName string, data []byte) *repb.Digest {
	d := DigestOf(data)
	s.mu.Lock()
	s.inst(instanceName).cas[key(d)] = append([]byte(nil), data...)
	s.mu.Unlock()
	return d
}

// DeleteBlob removes d from instance's CAS (an evicted blob).
func (s *Server) DeleteBlob(instanceName string, d *repb.Digest) {
	s.mu.Lock()
	delete(s.inst(instanceName).cas, key(d))
	s.mu.Unlock()
}

// ActionResult returns the action cache entry for the action digest d in
// instance, without the completeness check, or nil.
func (s *Server) ActionResult(instanceName string, d *repb.Digest) *repb.ActionResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.inst(instanceName).ac[key(d)]; r != nil {
		return proto.Clone(r).(*repb.ActionResult)
	}
	return nil
}

// Instances returns the instance names that hold any data, sorted.
func (s *Server) Instances() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n, in := range s.instances {
		if len(in.cas)+len(in.ac)+len(in.uploads) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// inst returns the data of an instance, creating it. s.mu must be held.
func (s *Server) inst(name string) *instance {
	in := s.instances[name]
	if in == nil {
		in = &instance{cas: map[string][]byte{}, ac: map[string]*repb.ActionResult{}, uploads: map[string]*upload{}}
		s.instances[name] = in
	}
	return in
}

// readBlob returns a blob as a client reads it: corrupted when asked to.
// s.mu must be held.
func (s *Server) readBlob(in *instance, d *repb.Digest) ([]byte, bool) {
	k := key(d)
	b, ok := in.cas[k]
	if !ok && d.GetSizeBytes() == 0 && d.GetHash() == emptyHash {
		b, ok = []byte{}, true // the empty blob is always present
	}
	if !ok {
		return nil, false
	}
	if s.corrupt[k] {
		c := append([]byte(nil), b...)
		if len(c) == 0 {
			c = []byte{0}
		}
		for i := range c {
			c[i] ^= 0x55
		}
		return c, true
	}
	return b, true
}

// has reports whether d is in the CAS of in. s.mu must be held.
func has(in *instance, d *repb.Digest) bool {
	if d.GetSizeBytes() == 0 && d.GetHash() == emptyHash {
		return true
	}
	_, ok := in.cas[key(d)]
	return ok
}

func shortMethod(full string) string {
	return full[strings.LastIndexByte(full, '/')+1:]
}

// begin records an RPC and applies the delay knob.
func (s *Server) begin(ctx context.Context, method string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	c := Call{Method: method, Header: md.Copy()}
	if v := md.Get("build.bazel.remote.execution.v2.requestmetadata-bin"); len(v) > 0 {
		rm := &repb.RequestMetadata{}
		if proto.Unmarshal([]byte(v[0]), rm) == nil {
			c.RequestMetadata = rm
		}
	}
	s.mu.Lock()
	s.stats.RPCs[shortMethod(method)]++
	if len(s.calls) >= 10000 {
		s.calls = s.calls[1:]
	}
	s.calls = append(s.calls, c)
	for k, vs := range md {
		if s.headers[k] == nil {
			s.headers[k] = map[string]bool{}
		}
		for _, v := range vs {
			s.headers[k][v] = true
		}
	}
	delay := s.opts.Delay
	var fail error
	for _, m := range []string{shortMethod(method), ""} {
		if f := s.failures[m]; f != nil && f.n > 0 {
			f.n--
			fail = errorf(f.code, "injected failure of %s (test knob)", shortMethod(method))
			break
		}
	}
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	return nil
}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.begin(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := s.begin(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return h(srv, ss)
}

// errorf is status.Errorf with the server's name in front, so that a test
// failure says where the message comes from.
func errorf(c codes.Code, format string, args ...any) error {
	return status.Errorf(c, "remotetest: "+format, args...)
}
