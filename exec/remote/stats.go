package remote

// Stats counts a Service's traffic since it was dialled. All fields are
// totals.
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
