package remote

import "sync/atomic"

// Stats counts a client's traffic since Dial. All fields are totals.
type Stats struct {
	RPCs            int64 // RPCs started (unary and streams), retries included
	Retries         int64 // attempts repeated after a transient failure
	BlobsUploaded   int64 // blobs sent (batch or ByteStream)
	BytesUploaded   int64 // their bytes
	BlobsDownloaded int64 // blobs received and verified
	BytesDownloaded int64 // their bytes
	CacheHits       int64 // GetActionResult found a result
	CacheMisses     int64 // GetActionResult: NOT_FOUND
	Executions      int64 // Execute calls that finished with a response
	ExecCacheHits   int64 // of those, answered from the cache (cached_result)
	WaitExecutions  int64 // reconnections to a running operation
	WriteResumes    int64 // ByteStream uploads resumed after a failure
}

// counters are the atomics behind Stats.
type counters struct {
	rpcs, retries                    atomic.Int64
	blobsUp, bytesUp                 atomic.Int64
	blobsDown, bytesDown             atomic.Int64
	hits, misses                     atomic.Int64
	executions, execHits, waitExecns atomic.Int64
	writeResumes                     atomic.Int64
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (c *Client) Stats() Stats {
	s := &c.stats
	return Stats{
		RPCs:            s.rpcs.Load(),
		Retries:         s.retries.Load(),
		BlobsUploaded:   s.blobsUp.Load(),
		BytesUploaded:   s.bytesUp.Load(),
		BlobsDownloaded: s.blobsDown.Load(),
		BytesDownloaded: s.bytesDown.Load(),
		CacheHits:       s.hits.Load(),
		CacheMisses:     s.misses.Load(),
		Executions:      s.executions.Load(),
		ExecCacheHits:   s.execHits.Load(),
		WaitExecutions:  s.waitExecns.Load(),
		WriteResumes:    s.writeResumes.Load(),
	}
}
