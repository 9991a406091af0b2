package grpcclient

import (
	"sync/atomic"

	"bld/exec/remote"
)

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
func (c *Client) Stats() remote.Stats {
	s := &c.stats
	return remote.Stats{
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
