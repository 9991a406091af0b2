package remote

import (
	"context"
	"fmt"

	"bld/exec/digest"
	"bld/exec/reapi"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc/codes"
)

// GetActionResult returns the action cache's result for the action with
// digest action. inlineStdout asks the server to inline stdout and stderr
// in the result when small (it may not). A miss is an error wrapping
// ErrNotFound.
func (c *Client) GetActionResult(ctx context.Context, action digest.Digest, inlineStdout bool) (*repb.ActionResult, error) {
	var res *repb.ActionResult
	err := c.call(ctx, "GetActionResult "+action.Short(), func(ctx context.Context) error {
		ctx, cancel := c.rpcCtx(ctx)
		defer cancel()
		var err error
		res, err = c.ac.GetActionResult(ctx, &repb.GetActionResultRequest{
			InstanceName: c.instance,
			ActionDigest: reapi.DigestToProto(action),
			InlineStdout: inlineStdout,
			InlineStderr: inlineStdout,
		})
		return err
	})
	if statusCode(err) == codes.NotFound {
		c.stats.misses.Add(1)
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	c.stats.hits.Add(1)
	return res, nil
}

// UpdateActionResult stores r as the result of the action with digest
// action. The blobs r names must be in the CAS already (Upload them
// first); servers may refuse otherwise.
func (c *Client) UpdateActionResult(ctx context.Context, action digest.Digest, r *repb.ActionResult) error {
	return c.call(ctx, "UpdateActionResult "+action.Short(), func(ctx context.Context) error {
		ctx, cancel := c.rpcCtx(ctx)
		defer cancel()
		_, err := c.ac.UpdateActionResult(ctx, &repb.UpdateActionResultRequest{
			InstanceName: c.instance,
			ActionDigest: reapi.DigestToProto(action),
			ActionResult: r,
		})
		return err
	})
}

// ReadOutput returns what the command of result printed: its stdout, then
// its stderr, each from the inlined bytes or, when not inlined, from the
// CAS (verified). A nil result printed nothing.
func (c *Client) ReadOutput(ctx context.Context, result *repb.ActionResult) ([]byte, error) {
	var out []byte
	for _, s := range []struct {
		raw []byte
		d   *repb.Digest
	}{{result.GetStdoutRaw(), result.GetStdoutDigest()}, {result.GetStderrRaw(), result.GetStderrDigest()}} {
		switch {
		case len(s.raw) > 0:
			out = append(out, s.raw...)
		case s.d.GetSizeBytes() > 0:
			b, err := c.ReadBlob(ctx, reapi.DigestFromProto(s.d))
			if err != nil {
				return nil, fmt.Errorf("reading the command's output: %w", err)
			}
			out = append(out, b...)
		}
	}
	return out, nil
}
