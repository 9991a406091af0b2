package remotetest

import (
	"context"
	"strconv"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

// casServer implements ContentAddressableStorage. Chunking (SplitBlob,
// SpliceBlob, chunk mappings) is not offered and answers UNIMPLEMENTED.
type casServer struct {
	repb.UnimplementedContentAddressableStorageServer
	s *Server
}

// batchLimit is the limit on the total blob bytes of a batch request.
func (s *Server) batchLimit() int64 {
	if s.opts.MaxBatchTotalSizeBytes > 0 {
		return s.opts.MaxBatchTotalSizeBytes
	}
	return HiddenMessageLimit
}

// FindMissingBlobs validates every digest and returns those absent. The
// empty blob is never missing.
func (c casServer) FindMissingBlobs(ctx context.Context, req *repb.FindMissingBlobsRequest) (*repb.FindMissingBlobsResponse, error) {
	if err := checkDigestFunction(req.DigestFunction); err != nil {
		return nil, err
	}
	for i, d := range req.BlobDigests {
		if err := checkDigest(d, "blob_digests["+strconv.Itoa(i)+"]"); err != nil {
			return nil, err
		}
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.inst(req.InstanceName)
	resp := &repb.FindMissingBlobsResponse{}
	seen := map[string]bool{}
	for _, d := range req.BlobDigests {
		if !has(in, d) && !seen[key(d)] {
			seen[key(d)] = true
			resp.MissingBlobDigests = append(resp.MissingBlobDigests, d)
		}
	}
	return resp, nil
}

// BatchUpdateBlobs stores blobs after checking the batch limit (the total
// of the data, and the whole serialized request, against the advertised
// limit: INVALID_ARGUMENT) and every digest (per-blob INVALID_ARGUMENT in
// the response; a malformed digest fails the whole request). Compressed
// uploads are refused, as no compressor is advertised.
func (c casServer) BatchUpdateBlobs(ctx context.Context, req *repb.BatchUpdateBlobsRequest) (*repb.BatchUpdateBlobsResponse, error) {
	s := c.s
	if err := checkDigestFunction(req.DigestFunction); err != nil {
		return nil, err
	}
	var total int64
	for i, r := range req.Requests {
		if err := checkDigest(r.Digest, "requests["+strconv.Itoa(i)+"].digest"); err != nil {
			return nil, err
		}
		if r.Compressor != repb.Compressor_IDENTITY {
			return nil, errorf(codes.InvalidArgument, "requests[%d]: compressor %v not supported (none advertised)", i, r.Compressor)
		}
		total += int64(len(r.Data))
	}
	limit := s.batchLimit()
	if total > limit {
		return nil, errorf(codes.InvalidArgument, "BatchUpdateBlobs: %d blobs totalling %d bytes exceed the batch limit of %d bytes", len(req.Requests), total, limit)
	}
	size := int64(proto.Size(req))
	if s.opts.MaxBatchTotalSizeBytes > 0 && size > limit {
		return nil, errorf(codes.InvalidArgument, "BatchUpdateBlobs: request of %d bytes (serialized) exceeds max_batch_total_size_bytes %d", size, limit)
	}
	resp := &repb.BatchUpdateBlobsResponse{}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.inst(req.InstanceName)
	var stored int64
	for _, r := range req.Requests {
		st := &spb.Status{}
		if err := checkData(r.Digest, r.Data); err != nil {
			st = statusProto(err)
		} else {
			in.cas[key(r.Digest)] = append([]byte(nil), r.Data...)
			s.stats.BatchUpdateBlobs++
			s.stats.BatchUpdateBytes += int64(len(r.Data))
			stored++
		}
		resp.Responses = append(resp.Responses, &repb.BatchUpdateBlobsResponse_Response{Digest: r.Digest, Status: st})
	}
	s.stats.MaxBatchUpdateBytes = max(s.stats.MaxBatchUpdateBytes, total)
	s.stats.MaxBatchUpdateCount = max(s.stats.MaxBatchUpdateCount, len(req.Requests))
	s.stats.MaxBatchRequestBytes = max(s.stats.MaxBatchRequestBytes, size)
	return resp, nil
}

// BatchReadBlobs returns blobs; a missing one gets NOT_FOUND in its
// response. The total size asked for must be within the batch limit
// (INVALID_ARGUMENT), so that the response fits a message.
func (c casServer) BatchReadBlobs(ctx context.Context, req *repb.BatchReadBlobsRequest) (*repb.BatchReadBlobsResponse, error) {
	s := c.s
	if err := checkDigestFunction(req.DigestFunction); err != nil {
		return nil, err
	}
	var total int64
	for i, d := range req.Digests {
		if err := checkDigest(d, "digests["+strconv.Itoa(i)+"]"); err != nil {
			return nil, err
		}
		total += d.SizeBytes
	}
	if limit := s.batchLimit(); total > limit {
		return nil, errorf(codes.InvalidArgument, "BatchReadBlobs: %d blobs totalling %d bytes exceed the batch limit of %d bytes", len(req.Digests), total, limit)
	}
	resp := &repb.BatchReadBlobsResponse{}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.inst(req.InstanceName)
	for _, d := range req.Digests {
		r := &repb.BatchReadBlobsResponse_Response{Digest: d, Status: &spb.Status{}}
		if b, ok := s.readBlob(in, d); ok {
			r.Data = append([]byte(nil), b...)
			s.stats.BatchReadBlobs++
			s.stats.BatchReadBytes += int64(len(b))
		} else {
			r.Status = &spb.Status{Code: int32(codes.NotFound), Message: "remotetest: blob " + key(d) + " not found"}
		}
		resp.Responses = append(resp.Responses, r)
	}
	s.stats.MaxBatchReadBytes = max(s.stats.MaxBatchReadBytes, total)
	s.stats.MaxBatchReadCount = max(s.stats.MaxBatchReadCount, len(req.Digests))
	return resp, nil
}

// GetTree streams the directories under root_digest, root first, in
// breadth-first order, page_size directories a page (default 1000). A
// missing root is NOT_FOUND; missing directories below it are left out, as
// the spec allows.
func (c casServer) GetTree(req *repb.GetTreeRequest, stream grpc.ServerStreamingServer[repb.GetTreeResponse]) error {
	s := c.s
	if err := checkDigestFunction(req.DigestFunction); err != nil {
		return err
	}
	if err := checkDigest(req.RootDigest, "root_digest"); err != nil {
		return err
	}
	start := 0
	if req.PageToken != "" {
		n, err := strconv.Atoi(req.PageToken)
		if err != nil || n < 0 {
			return errorf(codes.InvalidArgument, "GetTree: bad page_token %q", req.PageToken)
		}
		start = n
	}
	pageSize := int(req.PageSize)
	if pageSize <= 0 {
		pageSize = 1000
	}
	s.mu.Lock()
	in := s.inst(req.InstanceName)
	if !has(in, req.RootDigest) {
		s.mu.Unlock()
		return errorf(codes.NotFound, "GetTree: root directory %s not found", key(req.RootDigest))
	}
	var dirs []*repb.Directory
	queue := []*repb.Digest{req.RootDigest}
	seen := map[string]bool{}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[key(d)] {
			continue
		}
		seen[key(d)] = true
		b, ok := s.readBlob(in, d)
		if !ok {
			continue
		}
		dir := &repb.Directory{}
		if err := proto.Unmarshal(b, dir); err != nil {
			s.mu.Unlock()
			return errorf(codes.InvalidArgument, "GetTree: blob %s is not a Directory: %v", key(d), err)
		}
		dirs = append(dirs, dir)
		for _, n := range dir.Directories {
			queue = append(queue, n.Digest)
		}
	}
	s.mu.Unlock()
	if start > len(dirs) {
		return errorf(codes.InvalidArgument, "GetTree: page_token %q past the end", req.PageToken)
	}
	for i := start; ; i += pageSize {
		end := min(i+pageSize, len(dirs))
		resp := &repb.GetTreeResponse{Directories: dirs[i:end]}
		if end < len(dirs) {
			resp.NextPageToken = strconv.Itoa(end)
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
		if end >= len(dirs) {
			return nil
		}
	}
}
