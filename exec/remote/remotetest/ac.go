package remotetest

import (
	"context"
	"strings"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// acServer implements ActionCache.
type acServer struct {
	repb.UnimplementedActionCacheServer
	s *Server
}

// GetActionResult returns the cached result of an action, or NOT_FOUND when
// there is none or when any blob it references (output files, trees and the
// files in them, stdout, stderr) is missing from the CAS, as bazel-remote
// does. inline_stdout, inline_stderr and inline_output_files are honoured.
func (a acServer) GetActionResult(ctx context.Context, req *repb.GetActionResultRequest) (*repb.ActionResult, error) {
	s := a.s
	if err := checkDigestFunction(req.DigestFunction); err != nil {
		return nil, err
	}
	if err := checkDigest(req.ActionDigest, "action_digest"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.inst(req.InstanceName)
	r := in.ac[key(req.ActionDigest)]
	if r == nil {
		s.stats.ACMisses++
		return nil, errorf(codes.NotFound, "action %s not in the action cache", key(req.ActionDigest))
	}
	if missing := s.missingBlobs(in, r); len(missing) > 0 {
		s.stats.ACMisses++
		return nil, errorf(codes.NotFound, "action %s: cached result references %d missing blobs (e.g. %s)", key(req.ActionDigest), len(missing), key(missing[0]))
	}
	s.stats.ACHits++
	return s.inline(in, r, req.InlineStdout, req.InlineStderr, req.InlineOutputFiles), nil
}

// inline returns a copy of r with the requested contents inlined. s.mu must
// be held.
func (s *Server) inline(in *instance, r *repb.ActionResult, stdout, stderr bool, files []string) *repb.ActionResult {
	r = proto.Clone(r).(*repb.ActionResult)
	if stdout && r.StdoutDigest != nil {
		r.StdoutRaw, _ = s.readBlob(in, r.StdoutDigest)
	}
	if stderr && r.StderrDigest != nil {
		r.StderrRaw, _ = s.readBlob(in, r.StderrDigest)
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f] = !s.opts.NoInlineFiles
	}
	for _, f := range r.OutputFiles {
		if want[f.Path] {
			f.Contents, _ = s.readBlob(in, f.Digest)
		}
	}
	return r
}

// missingBlobs lists the blobs r references that the CAS lacks, trees
// included. s.mu must be held.
func (s *Server) missingBlobs(in *instance, r *repb.ActionResult) []*repb.Digest {
	var missing []*repb.Digest
	check := func(d *repb.Digest) {
		if d != nil && !has(in, d) {
			missing = append(missing, d)
		}
	}
	for _, f := range r.OutputFiles {
		check(f.Digest)
	}
	check(r.StdoutDigest)
	check(r.StderrDigest)
	for _, d := range r.OutputDirectories {
		if d.TreeDigest != nil {
			check(d.TreeDigest)
			if b, ok := in.cas[key(d.TreeDigest)]; ok {
				tree := &repb.Tree{}
				if proto.Unmarshal(b, tree) != nil {
					missing = append(missing, d.TreeDigest)
					continue
				}
				for _, dir := range append([]*repb.Directory{tree.Root}, tree.Children...) {
					for _, f := range dir.GetFiles() {
						check(f.Digest)
					}
				}
			}
		}
		if d.RootDirectoryDigest != nil {
			// REAPI 2.3 directory format: the Directory messages themselves.
			queue := []*repb.Digest{d.RootDirectoryDigest}
			seen := map[string]bool{}
			for len(queue) > 0 {
				dd := queue[0]
				queue = queue[1:]
				if seen[key(dd)] {
					continue
				}
				seen[key(dd)] = true
				b, ok := in.cas[key(dd)]
				if !ok {
					check(dd)
					continue
				}
				dir := &repb.Directory{}
				if proto.Unmarshal(b, dir) != nil {
					missing = append(missing, dd)
					continue
				}
				for _, f := range dir.Files {
					check(f.Digest)
				}
				for _, sub := range dir.Directories {
					queue = append(queue, sub.Digest)
				}
			}
		}
	}
	return missing
}

// UpdateActionResult stores a result after checking that every blob it
// references is in the CAS (FAILED_PRECONDITION with MISSING violations
// otherwise). PERMISSION_DENIED when Options.DisableACUpdate is set.
func (a acServer) UpdateActionResult(ctx context.Context, req *repb.UpdateActionResultRequest) (*repb.ActionResult, error) {
	s := a.s
	if s.opts.DisableACUpdate {
		return nil, errorf(codes.PermissionDenied, "the action cache is read-only for clients")
	}
	if err := checkDigestFunction(req.DigestFunction); err != nil {
		return nil, err
	}
	if err := checkDigest(req.ActionDigest, "action_digest"); err != nil {
		return nil, err
	}
	if req.ActionResult == nil {
		return nil, errorf(codes.InvalidArgument, "UpdateActionResult: no action_result")
	}
	if err := checkResult(req.ActionResult); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.inst(req.InstanceName)
	if missing := s.missingBlobs(in, req.ActionResult); len(missing) > 0 {
		return nil, missingError("UpdateActionResult: the result references blobs missing from the CAS; upload them first", missing).Err()
	}
	in.ac[key(req.ActionDigest)] = proto.Clone(req.ActionResult).(*repb.ActionResult)
	s.stats.ACUpdates++
	return req.ActionResult, nil
}

// checkResult validates the digests and paths of an ActionResult.
func checkResult(r *repb.ActionResult) error {
	for _, f := range r.OutputFiles {
		if err := checkDigest(f.Digest, "output file "+f.Path); err != nil {
			return err
		}
		if err := checkResultPath(f.Path); err != nil {
			return err
		}
	}
	for _, d := range r.OutputDirectories {
		if err := checkResultPath(d.Path); err != nil {
			return err
		}
		if d.TreeDigest == nil && d.RootDirectoryDigest == nil {
			return errorf(codes.InvalidArgument, "output directory %q has neither tree_digest nor root_directory_digest", d.Path)
		}
		for _, dd := range []*repb.Digest{d.TreeDigest, d.RootDirectoryDigest} {
			if dd != nil {
				if err := checkDigest(dd, "output directory "+d.Path); err != nil {
					return err
				}
			}
		}
	}
	for _, l := range append(append(r.OutputSymlinks, r.OutputFileSymlinks...), r.OutputDirectorySymlinks...) {
		if err := checkResultPath(l.Path); err != nil {
			return err
		}
	}
	for _, d := range []*repb.Digest{r.StdoutDigest, r.StderrDigest} {
		if d != nil {
			if err := checkDigest(d, "stdout/stderr"); err != nil {
				return err
			}
		}
	}
	return nil
}

// statusProto converts a gRPC error to a google.rpc.Status.
func statusProto(err error) *spb.Status {
	return status.Convert(err).Proto()
}

// checkResultPath checks a path of an ActionResult: relative to the
// action's working directory, which the action cache does not know, so
// only the form is checked.
func checkResultPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return errorf(codes.InvalidArgument, "output path %q: want a relative path without a trailing slash", p)
	}
	return nil
}
