package remotetest

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/grpc/codes"
)

// byteStreamServer implements google.bytestream.ByteStream over the CAS:
// reads of "{instance}/blobs/{hash}/{size}" and writes of
// "{instance}/uploads/{uuid}/blobs/{hash}/{size}[/metadata]".
// "compressed-blobs" resources are refused, as no compressor is advertised.
type byteStreamServer struct {
	bspb.UnimplementedByteStreamServer
	s *Server
}

// parseResource splits a ByteStream resource name into the instance name
// and the digest. For writes it also checks the uploads/{uuid} part.
func parseResource(name string, write bool) (string, *repb.Digest, error) {
	segs := strings.Split(name, "/")
	want := "blobs"
	if write {
		want = "uploads"
	}
	for i, seg := range segs {
		if seg == "compressed-blobs" {
			return "", nil, errorf(codes.InvalidArgument, "resource %q: compressed-blobs not supported (no compressor advertised)", name)
		}
		if seg != want {
			continue
		}
		rest := segs[i+1:]
		if write {
			if len(rest) < 4 || rest[0] == "" || rest[1] != "blobs" {
				break
			}
			rest = rest[2:]
		} else if len(rest) != 2 {
			break
		}
		size, err := strconv.ParseInt(rest[1], 10, 64)
		if err != nil {
			break
		}
		d := &repb.Digest{Hash: rest[0], SizeBytes: size}
		if err := checkDigest(d, "resource "+strconv.Quote(name)); err != nil {
			return "", nil, err
		}
		return strings.Join(segs[:i], "/"), d, nil
	}
	form := "{instance}/blobs/{hash}/{size}"
	if write {
		form = "{instance}/uploads/{uuid}/blobs/{hash}/{size}[/metadata]"
	}
	return "", nil, errorf(codes.InvalidArgument, "resource name %q: want %s", name, form)
}

// Read streams a blob from read_offset, at most read_limit bytes (0: to the
// end), in chunks of Options.ReadChunkSize. NOT_FOUND when absent;
// OUT_OF_RANGE for an offset outside the blob.
func (b byteStreamServer) Read(req *bspb.ReadRequest, stream bspb.ByteStream_ReadServer) error {
	s := b.s
	inName, d, err := parseResource(req.ResourceName, false)
	if err != nil {
		return err
	}
	if req.ReadOffset < 0 || req.ReadOffset > d.SizeBytes {
		return errorf(codes.OutOfRange, "Read %s: offset %d outside the blob", req.ResourceName, req.ReadOffset)
	}
	if req.ReadLimit < 0 {
		return errorf(codes.InvalidArgument, "Read %s: negative read_limit %d", req.ResourceName, req.ReadLimit)
	}
	s.mu.Lock()
	data, ok := s.readBlob(s.inst(inName), d)
	s.mu.Unlock()
	if !ok {
		return errorf(codes.NotFound, "Read: blob %s not found in instance %q", key(d), inName)
	}
	data = data[req.ReadOffset:]
	if req.ReadLimit > 0 && req.ReadLimit < int64(len(data)) {
		data = data[:req.ReadLimit]
	}
	var sent int64
	for len(data) > 0 {
		n := min(len(data), s.opts.ReadChunkSize)
		if err := stream.Send(&bspb.ReadResponse{Data: data[:n]}); err != nil {
			return err
		}
		data = data[n:]
		sent += int64(n)
	}
	s.mu.Lock()
	s.stats.ByteStreamReadBlobs++
	s.stats.ByteStreamReadBytes += sent
	s.mu.Unlock()
	return nil
}

// Write receives a blob. The first message names the resource; later ones
// may repeat it or leave it empty. Each write_offset must equal the bytes
// committed so far (0 restarts the upload; a non-zero first offset resumes
// an upload QueryWriteStatus reported). The data must match the digest of
// the resource name, checked at finish_write (INVALID_ARGUMENT otherwise, and
// at once when it grows past the size). A stream closed before finish_write
// is INVALID_ARGUMENT; its data is kept for QueryWriteStatus. With
// Options.WriteEarlyReturn, a write of a blob already present ends after
// the first message with committed_size = size.
func (b byteStreamServer) Write(stream bspb.ByteStream_WriteServer) error {
	s := b.s
	var (
		name   string
		inName string
		d      *repb.Digest
		up     *upload
	)
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if name == "" {
				return errorf(codes.InvalidArgument, "Write: no request")
			}
			return errorf(codes.InvalidArgument, "Write %s: stream closed before finish_write", name)
		}
		if err != nil {
			return err
		}
		if name == "" {
			name = req.ResourceName
			if inName, d, err = parseResource(name, true); err != nil {
				return err
			}
			s.mu.Lock()
			in := s.inst(inName)
			if s.opts.WriteEarlyReturn && has(in, d) {
				s.stats.ByteStreamWriteEarlyReturns++
				s.mu.Unlock()
				return stream.SendAndClose(&bspb.WriteResponse{CommittedSize: d.SizeBytes})
			}
			up = in.uploads[name]
			if up == nil || req.WriteOffset == 0 || up.complete {
				up = &upload{}
				in.uploads[name] = up
			}
			s.mu.Unlock()
		} else if req.ResourceName != "" && req.ResourceName != name {
			return errorf(codes.InvalidArgument, "Write: resource name changed from %q to %q", name, req.ResourceName)
		}
		s.mu.Lock()
		committed := int64(len(up.data))
		if req.WriteOffset != committed {
			s.mu.Unlock()
			return errorf(codes.InvalidArgument, "Write %s: write_offset %d, but %d bytes are committed", name, req.WriteOffset, committed)
		}
		if committed+int64(len(req.Data)) > d.SizeBytes {
			s.mu.Unlock()
			return errorf(codes.InvalidArgument, "Write %s: %d bytes sent, more than the digest's size %d", name, committed+int64(len(req.Data)), d.SizeBytes)
		}
		up.data = append(up.data, req.Data...)
		if !req.FinishWrite {
			s.mu.Unlock()
			continue
		}
		if err := checkData(d, up.data); err != nil {
			delete(s.inst(inName).uploads, name)
			s.mu.Unlock()
			return err
		}
		s.inst(inName).cas[key(d)] = up.data
		up.complete = true
		s.stats.ByteStreamWriteBlobs++
		s.stats.ByteStreamWriteBytes += d.SizeBytes
		s.mu.Unlock()
		return stream.SendAndClose(&bspb.WriteResponse{CommittedSize: d.SizeBytes})
	}
}

// QueryWriteStatus reports an upload: complete when the blob is in the CAS,
// the committed size of a partial upload, NOT_FOUND otherwise.
func (b byteStreamServer) QueryWriteStatus(ctx context.Context, req *bspb.QueryWriteStatusRequest) (*bspb.QueryWriteStatusResponse, error) {
	s := b.s
	inName, d, err := parseResource(req.ResourceName, true)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.inst(inName)
	if has(in, d) {
		return &bspb.QueryWriteStatusResponse{CommittedSize: d.SizeBytes, Complete: true}, nil
	}
	if up := in.uploads[req.ResourceName]; up != nil {
		return &bspb.QueryWriteStatusResponse{CommittedSize: int64(len(up.data))}, nil
	}
	return nil, errorf(codes.NotFound, "QueryWriteStatus: no upload %s", req.ResourceName)
}
