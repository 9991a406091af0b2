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
// digest action, with the contents inline asks for (remote.Inline). A
// miss is an error wrapping ErrNotFound.
func (c *Client) GetActionResult(ctx context.Context, action digest.Digest, inline remote.Inline) (*reapi.ActionResult, error) {
	var res *repb.ActionResult
	hint := inlineFiles(inline)
	err := c.call(ctx, "GetActionResult "+action.Short(), func(ctx context.Context) error {
		ctx, cancel := c.rpcCtx(ctx)
		defer cancel()
		var err error
		res, err = c.ac.GetActionResult(ctx, &repb.GetActionResultRequest{
			InstanceName: c.instance,
			ActionDigest: digestToProto(action),
			InlineStdout: inline.Output,
			InlineStderr: inline.Output,
			// A hint: a server may inline them within its message limits,
			// bigger ones too (the caller copes); c.inline reads the rest.
			InlineOutputFiles: hint,
		})
		if statusCode(err) == codes.ResourceExhausted && hint != nil {
			// The inlined outputs may have made the answer bigger than
			// this client takes (maxMessage): the retry asks without.
			hint = nil
		}
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
	c.inline(ctx, r, inline)
	return r, nil
}

// inlineFiles is what GetActionResult asks the server to inline.
func inlineFiles(in remote.Inline) []string {
	if in.UpTo <= 0 {
		return nil
	}
	return in.Files
}

// inline reads into r the contents in asks for that r lacks, in one
// ReadBlobs; on any failure it leaves r as it was (remote.Inline is best
// effort: the caller reads what is missing as it would have).
func (c *Client) inline(ctx context.Context, r *reapi.ActionResult, in remote.Inline) {
	if r == nil {
		return
	}
	// Each blob to read, and where its content goes.
	var want []digest.Digest
	var into []*[]byte
	add := func(d digest.Digest, content *[]byte) {
		if len(*content) == 0 && d.Size > 0 && d.Size <= in.UpTo {
			want, into = append(want, d), append(into, content)
		}
	}
	if in.Output {
		add(r.StdoutDigest, &r.StdoutRaw)
		add(r.StderrDigest, &r.StderrRaw)
	}
	if len(in.Files) > 0 {
		wanted := make(map[string]bool, len(in.Files)) // an action may have thousands of outputs
		for _, p := range in.Files {
			wanted[p] = true
		}
		for i := range r.OutputFiles {
			if f := &r.OutputFiles[i]; wanted[f.Path] {
				add(f.Digest, &f.Contents)
			}
		}
	}
	if len(want) == 0 {
		return
	}
	got, err := c.ReadBlobs(ctx, want)
	if err != nil {
		return
	}
	for i, d := range want {
		*into[i] = got[d]
	}
}

// UpdateActionResult uploads blobs (Upload), then stores r as the result
// of the action with digest action. The blobs r names must be in the CAS
// by then, uploaded now or before; servers may refuse otherwise.
func (c *Client) UpdateActionResult(ctx context.Context, action digest.Digest, r *reapi.ActionResult, blobs []remote.Blob) error {
	m, err := resultToProto(r)
	if err != nil {
		return fmt.Errorf("remote %s: UpdateActionResult %s: %w", c.target, action.Short(), err)
	}
	if _, err := c.Upload(ctx, blobs); err != nil {
		return err
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
