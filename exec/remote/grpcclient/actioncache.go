package grpcclient

import (
	"context"
	"fmt"
	"io"

	"bld/exec/digest"
	"bld/exec/reapi"
	"bld/exec/remote"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc/codes"
)

// GetActionResult returns the action cache's result for the action with
// digest action. inlineStdout asks the server to inline stdout and stderr
// in the result when small (it may not). A miss is an error wrapping
// ErrNotFound.
func (c *Client) GetActionResult(ctx context.Context, action digest.Digest, inlineStdout bool) (*reapi.ActionResult, error) {
	var res *repb.ActionResult
	err := c.call(ctx, "GetActionResult "+action.Short(), func(ctx context.Context) error {
		ctx, cancel := c.rpcCtx(ctx)
		defer cancel()
		var err error
		res, err = c.ac.GetActionResult(ctx, &repb.GetActionResultRequest{
			InstanceName: c.instance,
			ActionDigest: digestToProto(action),
			InlineStdout: inlineStdout,
			InlineStderr: inlineStdout,
		})
		return err
	})
	if statusCode(err) == codes.NotFound {
		c.stats.misses.Add(1)
		return nil, fmt.Errorf("%w: %w", remote.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	r, err := resultFromProto(res)
	if err != nil {
		return nil, fmt.Errorf("remote %s: GetActionResult %s: %w", c.target, action.Short(), err)
	}
	c.stats.hits.Add(1)
	return r, nil
}

// UpdateActionResult stores r as the result of the action with digest
// action. The blobs r names must be in the CAS already (Upload them
// first); servers may refuse otherwise.
func (c *Client) UpdateActionResult(ctx context.Context, action digest.Digest, r *reapi.ActionResult) error {
	m, err := resultToProto(r)
	if err != nil {
		return fmt.Errorf("remote %s: UpdateActionResult %s: %w", c.target, action.Short(), err)
	}
	return c.call(ctx, "UpdateActionResult "+action.Short(), func(ctx context.Context) error {
		ctx, cancel := c.rpcCtx(ctx)
		defer cancel()
		_, err := c.ac.UpdateActionResult(ctx, &repb.UpdateActionResultRequest{
			InstanceName: c.instance,
			ActionDigest: digestToProto(action),
			ActionResult: m,
		})
		return err
	})
}

// WriteOutput writes what the command of result printed to w: its
// stdout, then its stderr, each from the inlined bytes or from the CAS,
// streamed (a command may print gigabytes). A blob is verified once it has
// been read whole: on an error, what was written so far must be dropped.
// A nil result printed nothing.
func (c *Client) WriteOutput(ctx context.Context, result *reapi.ActionResult, w io.Writer) error {
	if result == nil {
		return nil
	}
	for _, s := range []struct {
		raw []byte
		d   digest.Digest
	}{{result.StdoutRaw, result.StdoutDigest}, {result.StderrRaw, result.StderrDigest}} {
		switch {
		case len(s.raw) > 0:
			if _, err := w.Write(s.raw); err != nil {
				return err
			}
		case s.d.Size > 0:
			if err := c.readStream(ctx, s.d, w); err != nil {
				return fmt.Errorf("reading the command's output: %w", err)
			}
		}
	}
	return nil
}
