package grpcclient

import (
	"context"
	"fmt"
	"os"
	"sync"

	"bld/exec/crash"
	"bld/exec/remote"

	"bld/exec/digest"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	gstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// findMissingChunk bounds the digests in one FindMissingBlobs request
// (about 80 bytes each, far under any message limit).
const findMissingChunk = 10000

// parallelism bounds the batch and stream RPCs one call runs at once.
const parallelism = 8

// isEmpty reports whether d is the empty blob's, which every CAS has
// without being told.
func isEmpty(d digest.Digest) bool { return d.Size == 0 }

// FindMissing returns those of ds the CAS does not have, each once, in the
// order of ds. The empty blob is never missing.
func (c *Client) FindMissing(ctx context.Context, ds []digest.Digest) ([]digest.Digest, error) {
	seen := make(map[digest.Digest]bool, len(ds))
	var ask []*repb.Digest
	for _, d := range ds {
		if isEmpty(d) || seen[d] {
			continue
		}
		seen[d] = true
		ask = append(ask, digestToProto(d))
	}
	missing := make(map[digest.Digest]bool)
	for len(ask) > 0 {
		n := min(len(ask), findMissingChunk)
		chunk := ask[:n]
		ask = ask[n:]
		var resp *repb.FindMissingBlobsResponse
		err := c.call(ctx, "FindMissingBlobs", func(ctx context.Context) error {
			ctx, cancel := c.rpcCtx(ctx)
			defer cancel()
			var err error
			resp, err = c.cas.FindMissingBlobs(ctx, &repb.FindMissingBlobsRequest{InstanceName: c.instance, BlobDigests: chunk})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, d := range resp.GetMissingBlobDigests() {
			missing[digestFromProto(d)] = true
		}
	}
	var out []digest.Digest
	for _, d := range ds {
		if missing[d] {
			out = append(out, d)
			delete(missing, d)
		}
	}
	return out, nil
}

// Upload makes sure the CAS has blobs. It drops duplicates and the empty
// blob, asks FindMissingBlobs which are missing, and sends those: in
// BatchUpdateBlobs requests that stay under MaxBatchBytes with their
// overhead, and through ByteStream Write, chunked, when one blob alone
// would not fit. It returns the number of content bytes sent. Every
// per-blob status is checked; transient ones are retried.
func (c *Client) Upload(ctx context.Context, blobs []remote.Blob) (sent int64, err error) {
	byDigest := make(map[digest.Digest]remote.Blob, len(blobs))
	var ds []digest.Digest
	for _, b := range blobs {
		if isEmpty(b.Digest) {
			continue
		}
		if _, ok := byDigest[b.Digest]; ok {
			continue
		}
		if b.Data == nil && b.Path == "" {
			return 0, fmt.Errorf("remote upload of %s: neither data nor a file path", b.Digest.Short())
		}
		byDigest[b.Digest] = b
		ds = append(ds, b.Digest)
	}
	missing, err := c.FindMissing(ctx, ds)
	if err != nil {
		return 0, err
	}
	sizes := make([]int64, len(missing))
	for i, d := range missing {
		sizes[i] = updateEntrySize(d)
	}
	batches, big := planBatches(updateBase(c.instance), c.planLimit, sizes)

	var total sentCounter
	var jobs []func(context.Context) error
	for _, idx := range batches {
		bs := make([]remote.Blob, len(idx))
		for j, i := range idx {
			bs[j] = byDigest[missing[i]]
		}
		jobs = append(jobs, func(ctx context.Context) error {
			n, err := c.uploadBatch(ctx, bs)
			total.add(n)
			return err
		})
	}
	for _, i := range big {
		b := byDigest[missing[i]]
		jobs = append(jobs, func(ctx context.Context) error {
			n, err := c.writeBlob(ctx, b)
			total.add(n)
			return err
		})
	}
	err = runParallel(ctx, parallelism, jobs)
	return total.get(), err
}

type sentCounter struct {
	mu sync.Mutex
	n  int64
}

func (s *sentCounter) add(n int64) { s.mu.Lock(); s.n += n; s.mu.Unlock() }
func (s *sentCounter) get() int64  { s.mu.Lock(); defer s.mu.Unlock(); return s.n }

// blobData returns b's content, reading its file if need be, and checks
// that its size is the digest's.
func blobData(b remote.Blob) ([]byte, error) {
	data := b.Data
	if data == nil {
		var err error
		data, err = os.ReadFile(b.Path)
		if err != nil {
			return nil, fmt.Errorf("remote upload of %s: %w", b.Digest.Short(), err)
		}
	}
	if int64(len(data)) != b.Digest.Size {
		what := "data"
		if b.Data == nil {
			what = b.Path
		}
		return nil, fmt.Errorf("remote upload of %s: %s has %d bytes, not the digest's %d (changed while building?)", b.Digest.Short(), what, len(data), b.Digest.Size)
	}
	return data, nil
}

// uploadBatch sends blobs in one BatchUpdateBlobs request, retrying the
// blobs whose status is transient.
func (c *Client) uploadBatch(ctx context.Context, blobs []remote.Blob) (int64, error) {
	pending := make(map[digest.Digest]*repb.BatchUpdateBlobsRequest_Request, len(blobs))
	var reqs []*repb.BatchUpdateBlobsRequest_Request
	for _, b := range blobs {
		data, err := blobData(b)
		if err != nil {
			return 0, err
		}
		r := &repb.BatchUpdateBlobsRequest_Request{Digest: digestToProto(b.Digest), Data: data}
		pending[b.Digest] = r
		reqs = append(reqs, r)
	}
	var sent int64
	err := c.call(ctx, "BatchUpdateBlobs", func(ctx context.Context) error {
		ctx, cancel := c.rpcCtx(ctx)
		defer cancel()
		resp, err := c.cas.BatchUpdateBlobs(ctx, &repb.BatchUpdateBlobsRequest{InstanceName: c.instance, Requests: reqs})
		if err != nil {
			return err
		}
		var again []*repb.BatchUpdateBlobsRequest_Request
		var transient, permanent error
		for _, r := range resp.GetResponses() {
			d := digestFromProto(r.GetDigest())
			req, ok := pending[d]
			if !ok {
				continue
			}
			if err := blobStatus(r.GetStatus()); err != nil {
				err = fmt.Errorf("blob %s: %w", d.Short(), err)
				if retryable(ctx, err) {
					again = append(again, req)
					transient = err
				} else if permanent == nil {
					permanent = err
				}
				continue
			}
			delete(pending, d)
			sent += d.Size
			c.stats.blobsUp.Add(1)
			c.stats.bytesUp.Add(d.Size)
		}
		if permanent != nil {
			return permanent
		}
		if len(again) < len(pending) {
			// The server answered nothing for some blobs: send them again.
			again = again[:0]
			for _, r := range reqs {
				if _, ok := pending[digestFromProto(r.Digest)]; ok {
					again = append(again, r)
				}
			}
			if transient == nil {
				transient = gstatus.Errorf(codes.Unavailable, "no status for %d blob(s)", len(again))
			}
		}
		reqs = again
		return transient
	})
	return sent, err
}

// blobStatus converts a per-blob google.rpc.Status to an error (nil for OK).
func blobStatus(s *status.Status) error {
	if s.GetCode() == int32(codes.OK) {
		return nil
	}
	return gstatus.ErrorProto(s)
}

// updateBase is the size of a BatchUpdateBlobsRequest without blobs.
func updateBase(instance string) int64 {
	return int64(proto.Size(&repb.BatchUpdateBlobsRequest{InstanceName: instance}))
}

// updateEntrySize is what one blob of digest d adds to a
// BatchUpdateBlobsRequest: the field's tag and length, the digest, and the
// data with its tag and length.
func updateEntrySize(d digest.Digest) int64 {
	inner := int64(proto.Size(&repb.BatchUpdateBlobsRequest_Request{Digest: digestToProto(d)}))
	if d.Size > 0 {
		inner += int64(protowire.SizeTag(2)) + int64(protowire.SizeBytes(int(d.Size)))
	}
	return int64(protowire.SizeTag(2)) + int64(protowire.SizeVarint(uint64(inner))) + inner
}

// readEntrySize estimates what one blob of digest d adds to a
// BatchReadBlobsResponse (the data, the digest, a status and slack for a
// message in it).
func readEntrySize(d digest.Digest) int64 {
	return updateEntrySize(d) + 64
}

// planBatches packs entries of the given sizes into batches whose total,
// with base, is at most limit, keeping their order. Entries too big for
// any batch are returned in big, for ByteStream. Each batch is a list of
// indexes into sizes.
func planBatches(base, limit int64, sizes []int64) (batches [][]int, big []int) {
	var cur []int
	var curSize int64
	for i, s := range sizes {
		if base+s > limit {
			big = append(big, i)
			continue
		}
		if len(cur) > 0 && curSize+s > limit {
			batches = append(batches, cur)
			cur, curSize = nil, 0
		}
		if len(cur) == 0 {
			curSize = base
		}
		cur = append(cur, i)
		curSize += s
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, big
}

// runParallel runs jobs, at most n at once, and returns the first error;
// after an error the jobs not started are skipped and the running ones'
// ctx is cancelled.
func runParallel(ctx context.Context, n int, jobs []func(context.Context) error) error {
	if len(jobs) == 1 {
		return jobs[0](ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	started := 0
	for _, job := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		started++
		wg.Add(1)
		crash.Go(func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := job(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	if first == nil && started < len(jobs) {
		// Cancelled from outside before all jobs ran.
		return context.Cause(ctx)
	}
	return first
}

// ReadBlob returns the content of d from the CAS, verified: by
// BatchReadBlobs, or ByteStream Read when d is too big for a batch. A
// blob the CAS lacks is an error wrapping ErrNotFound; content not
// matching d is an error wrapping ErrCorrupt, and is not returned. The
// empty blob needs no RPC.
func (c *Client) ReadBlob(ctx context.Context, d digest.Digest) ([]byte, error) {
	m, err := c.ReadBlobs(ctx, []digest.Digest{d})
	if err != nil {
		return nil, err
	}
	return m[d], nil
}

// ReadBlobs returns the contents of ds, verified, as ReadBlob does, in
// batches under MaxBatchBytes (ByteStream for the big ones). Any blob
// missing or corrupt fails the whole call.
func (c *Client) ReadBlobs(ctx context.Context, ds []digest.Digest) (map[digest.Digest][]byte, error) {
	out := make(map[digest.Digest][]byte, len(ds))
	var want []digest.Digest
	for _, d := range ds {
		if _, ok := out[d]; ok {
			continue
		}
		if isEmpty(d) {
			if d.Hash != digest.Empty.Hash {
				return nil, fmt.Errorf("remote read of %s: %w", d.Short(), remote.ErrCorrupt)
			}
			out[d] = []byte{}
			continue
		}
		out[d] = nil
		want = append(want, d)
	}
	sizes := make([]int64, len(want))
	for i, d := range want {
		sizes[i] = readEntrySize(d)
	}
	base := int64(proto.Size(&repb.BatchReadBlobsResponse{}))
	batches, big := planBatches(base, c.planLimit, sizes)
	var mu sync.Mutex
	put := func(d digest.Digest, b []byte) { mu.Lock(); out[d] = b; mu.Unlock() }
	var jobs []func(context.Context) error
	for _, idx := range batches {
		batch := make([]digest.Digest, len(idx))
		for j, i := range idx {
			batch[j] = want[i]
		}
		jobs = append(jobs, func(ctx context.Context) error { return c.readBatch(ctx, batch, put) })
	}
	for _, i := range big {
		d := want[i]
		jobs = append(jobs, func(ctx context.Context) error {
			var buf bytesWriter
			if err := c.readStream(ctx, d, &buf); err != nil {
				return err
			}
			put(d, buf.b)
			return nil
		})
	}
	if err := runParallel(ctx, parallelism, jobs); err != nil {
		return nil, err
	}
	return out, nil
}

type bytesWriter struct{ b []byte }

func (w *bytesWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// readBatch reads ds in one BatchReadBlobs request, retrying blobs with
// transient statuses, and verifies each.
func (c *Client) readBatch(ctx context.Context, ds []digest.Digest, put func(digest.Digest, []byte)) error {
	pending := make(map[digest.Digest]bool, len(ds))
	for _, d := range ds {
		pending[d] = true
	}
	ask := ds
	return c.call(ctx, "BatchReadBlobs", func(ctx context.Context) error {
		ctx, cancel := c.rpcCtx(ctx)
		defer cancel()
		pbs := make([]*repb.Digest, len(ask))
		for i, d := range ask {
			pbs[i] = digestToProto(d)
		}
		resp, err := c.cas.BatchReadBlobs(ctx, &repb.BatchReadBlobsRequest{InstanceName: c.instance, Digests: pbs})
		if err != nil {
			return err
		}
		var transient error
		for _, r := range resp.GetResponses() {
			d := digestFromProto(r.GetDigest())
			if !pending[d] {
				continue
			}
			if err := blobStatus(r.GetStatus()); err != nil {
				if gstatus.Code(err) == codes.NotFound {
					return fmt.Errorf("blob %s: %w: %w", d.Short(), remote.ErrNotFound, err)
				}
				err = fmt.Errorf("blob %s: %w", d.Short(), err)
				if !retryable(ctx, err) {
					return err
				}
				transient = err
				continue
			}
			if err := verify(d, r.GetData()); err != nil {
				return err
			}
			delete(pending, d)
			put(d, r.GetData())
			c.stats.blobsDown.Add(1)
			c.stats.bytesDown.Add(d.Size)
		}
		if len(pending) == 0 {
			return nil
		}
		ask = ask[:0:0]
		for _, d := range ds {
			if pending[d] {
				ask = append(ask, d)
			}
		}
		if transient == nil {
			transient = gstatus.Errorf(codes.Unavailable, "no answer for %d blob(s)", len(ask))
		}
		return transient
	})
}

// verify checks that data is the content of d.
func verify(d digest.Digest, data []byte) error {
	if got := digest.OfBytes(data); got != d {
		return fmt.Errorf("blob %s: %w (got %s)", d.Short(), remote.ErrCorrupt, got.Short())
	}
	return nil
}
