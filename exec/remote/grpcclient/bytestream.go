package grpcclient

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"bld/exec/digest"
	"bld/exec/remote"

	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/grpc/codes"
	gstatus "google.golang.org/grpc/status"
)

// chunkSize is the data in one ByteStream message.
const chunkSize = 1 << 20

// newUUID returns a random (version 4) UUID for an upload's resource name.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// resourcePrefix is "{instance}/" or "" for the default instance.
func (c *Client) resourcePrefix() string {
	if c.instance == "" {
		return ""
	}
	return c.instance + "/"
}

func (c *Client) writeResource(d digest.Digest) string {
	return c.resourcePrefix() + "uploads/" + newUUID() + "/blobs/" + d.Hash + "/" + strconv.FormatInt(d.Size, 10)
}

func (c *Client) readResource(d digest.Digest) string {
	return c.resourcePrefix() + "blobs/" + d.Hash + "/" + strconv.FormatInt(d.Size, 10)
}

// writeBlob uploads b with ByteStream Write in chunks, streaming its file
// when it has one. After a transient failure it asks QueryWriteStatus how
// much the server kept and resumes there (from the start when the server
// cannot say). It returns the content bytes committed.
func (c *Client) writeBlob(ctx context.Context, b remote.Blob) (int64, error) {
	name := c.writeResource(b.Digest)
	attempt := 0
	err := c.call(ctx, "ByteStream.Write "+b.Digest.Short(), func(ctx context.Context) error {
		attempt++
		var off int64
		if attempt > 1 {
			var done bool
			off, done = c.queryWrite(ctx, name, b.Digest.Size)
			if done {
				return nil
			}
		}
		err := c.writeOnce(ctx, b, name, off)
		if err != nil && off > 0 && !retryable(ctx, err) && ctx.Err() == nil {
			// The server refused the resumption (say, it had committed
			// more by then): upload again from the start.
			name = c.writeResource(b.Digest)
			err = c.writeOnce(ctx, b, name, 0)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	c.stats.blobsUp.Add(1)
	c.stats.bytesUp.Add(b.Digest.Size)
	return b.Digest.Size, nil
}

// queryWrite returns where to resume the upload name of a blob of size
// bytes, and whether it is complete; 0 when the server cannot say.
func (c *Client) queryWrite(ctx context.Context, name string, size int64) (off int64, complete bool) {
	ctx, cancel := c.rpcCtx(ctx)
	defer cancel()
	resp, err := c.bs.QueryWriteStatus(ctx, &bspb.QueryWriteStatusRequest{ResourceName: name})
	if err != nil {
		return 0, false
	}
	if resp.GetComplete() {
		return size, true
	}
	if n := resp.GetCommittedSize(); n > 0 && n < size {
		return n, false
	}
	return 0, false
}

// writeOnce sends b from offset off to the upload name and checks what
// the server committed.
func (c *Client) writeOnce(ctx context.Context, b remote.Blob, name string, off int64) error {
	var r io.Reader
	if b.Data != nil {
		if int64(len(b.Data)) != b.Digest.Size {
			return fmt.Errorf("upload of %s: data has %d bytes, not the digest's", b.Digest.Short(), len(b.Data))
		}
		r = &bytesReader{b: b.Data, off: int(off)}
	} else {
		f, err := os.Open(b.Path)
		if err != nil {
			return fmt.Errorf("upload of %s: %w", b.Digest.Short(), err)
		}
		defer f.Close()
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("upload of %s: %w", b.Digest.Short(), err)
		}
		r = f
	}
	c.stats.writeResumes.Add(min(off, 1))
	is := newIdleStream(ctx, c.timeout)
	defer is.stop()
	stream, err := c.bs.Write(is.ctx)
	if err != nil {
		return is.err(err)
	}
	buf := make([]byte, min(int64(chunkSize), max(b.Digest.Size-off, 1)))
	first := true
	for {
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			stream.CloseSend()
			return fmt.Errorf("upload of %s: %w", b.Digest.Short(), rerr)
		}
		last := off+int64(n) >= b.Digest.Size || n == 0
		if last && off+int64(n) != b.Digest.Size {
			stream.CloseSend()
			return fmt.Errorf("upload of %s: %s has %d bytes, not the digest's %d (changed while building?)", b.Digest.Short(), b.Path, off+int64(n), b.Digest.Size)
		}
		req := &bspb.WriteRequest{WriteOffset: off, Data: buf[:n], FinishWrite: last}
		if first {
			req.ResourceName = name
			first = false
		}
		if err := stream.Send(req); err != nil {
			if err == io.EOF {
				break // the server ended the stream; CloseAndRecv says why
			}
			return is.err(err)
		}
		is.kick()
		off += int64(n)
		if last {
			break
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return is.err(err)
	}
	if resp.GetCommittedSize() != b.Digest.Size {
		return gstatus.Errorf(codes.Internal, "upload of %s: the server committed %d bytes, not %d", b.Digest.Short(), resp.GetCommittedSize(), b.Digest.Size)
	}
	return nil
}

type bytesReader struct {
	b   []byte
	off int
}

func (r *bytesReader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// readStream writes the content of d to w with ByteStream Read, verifying
// it as it goes: more bytes than d.Size, fewer, or another hash is an
// error wrapping ErrCorrupt (w has then received unverified bytes; the
// caller discards them). A transient failure resumes at the offset reached.
func (c *Client) readStream(ctx context.Context, d digest.Digest, w io.Writer) error {
	h := sha256.New()
	var off int64
	err := c.call(ctx, "ByteStream.Read "+d.Short(), func(ctx context.Context) error {
		return c.readOnce(ctx, d, w, h, &off)
	})
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Hash {
		return fmt.Errorf("remote %s: blob %s: %w (got hash %.12s)", c.target, d.Short(), remote.ErrCorrupt, got)
	}
	c.stats.blobsDown.Add(1)
	c.stats.bytesDown.Add(d.Size)
	return nil
}

func (c *Client) readOnce(ctx context.Context, d digest.Digest, w io.Writer, h hash.Hash, off *int64) error {
	is := newIdleStream(ctx, c.timeout)
	defer is.stop()
	stream, err := c.bs.Read(is.ctx, &bspb.ReadRequest{ResourceName: c.readResource(d), ReadOffset: *off})
	if err != nil {
		return is.err(err)
	}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			if gstatus.Code(err) == codes.NotFound {
				return fmt.Errorf("blob %s: %w: %w", d.Short(), remote.ErrNotFound, err)
			}
			return is.err(err)
		}
		is.kick()
		data := resp.GetData()
		if *off+int64(len(data)) > d.Size {
			return fmt.Errorf("blob %s: %w (more than %d bytes)", d.Short(), remote.ErrCorrupt, d.Size)
		}
		h.Write(data)
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("blob %s: %w", d.Short(), err)
		}
		*off += int64(len(data))
	}
	if *off != d.Size {
		return fmt.Errorf("blob %s: %w (%d bytes, not %d)", d.Short(), remote.ErrCorrupt, *off, d.Size)
	}
	return nil
}

// DownloadFile writes the content of d to the file path with permissions
// perm: streamed into a temporary file beside path, verified, then renamed
// over path, so path never holds partial or unverified content. The
// directory must exist. The empty blob needs no RPC.
func (c *Client) DownloadFile(ctx context.Context, d digest.Digest, path string, perm os.FileMode) (err error) {
	if isEmpty(d) && d.Hash != digest.Empty.Hash {
		return fmt.Errorf("remote download of %s: %w", d.Short(), remote.ErrCorrupt)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("remote download of %s: %w", d.Short(), err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if !isEmpty(d) {
		bw := bufio.NewWriterSize(f, 256<<10)
		if err := c.readStream(ctx, d, bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("remote download of %s: %w", d.Short(), err)
		}
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("remote download of %s: %w", d.Short(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("remote download of %s: %w", d.Short(), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("remote download of %s: %w", d.Short(), err)
	}
	return nil
}
