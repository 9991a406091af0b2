package remotetest

import (
	"context"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
)

type capabilitiesServer struct {
	s *Server
}

// GetCapabilities advertises SHA256 only, the configured API versions, the
// batch limit when configured (0 = not advertised), no compressors, and
// execution when enabled.
func (c capabilitiesServer) GetCapabilities(ctx context.Context, req *repb.GetCapabilitiesRequest) (*repb.ServerCapabilities, error) {
	s := c.s
	low, _ := parseSemVer(s.opts.LowAPIVersion)
	high, _ := parseSemVer(s.opts.HighAPIVersion)
	caps := &repb.ServerCapabilities{
		CacheCapabilities: &repb.CacheCapabilities{
			DigestFunctions: []repb.DigestFunction_Value{repb.DigestFunction_SHA256},
			ActionCacheUpdateCapabilities: &repb.ActionCacheUpdateCapabilities{
				UpdateEnabled: !s.opts.DisableACUpdate,
			},
			MaxBatchTotalSizeBytes:      s.opts.MaxBatchTotalSizeBytes,
			SymlinkAbsolutePathStrategy: repb.SymlinkAbsolutePathStrategy_DISALLOWED,
		},
		LowApiVersion:  low,
		HighApiVersion: high,
	}
	if s.opts.Exec {
		caps.ExecutionCapabilities = &repb.ExecutionCapabilities{
			DigestFunction:  repb.DigestFunction_SHA256,
			DigestFunctions: []repb.DigestFunction_Value{repb.DigestFunction_SHA256},
			ExecEnabled:     true,
		}
	}
	return caps, nil
}
