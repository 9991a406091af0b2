package grpcclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Credential helpers speak Bazel's protocol
// (https://github.com/EngFlow/credential-helper-spec): the helper is run
// with the single argument "get", reads {"uri": "<target>"} on stdin and
// writes {"headers": {"name": ["value", ...]}, "expires": "<RFC 3339>"} on
// stdout, exiting 0. Its headers are added to every call; it is run again
// when they expire (after credHelperCacheFor when it names no expiry).

// credHelperTimeout bounds one run of the helper.
const credHelperTimeout = 10 * time.Second

// credHelperCacheFor is how long headers without an expiry are used
// (Bazel's --credential_helper_cache_duration default).
const credHelperCacheFor = 30 * time.Minute

type credHelper struct {
	path string
	uri  string
	now  func() time.Time

	lock    chan struct{} // a mutex that waiting callers can abandon
	headers [][2]string
	expires time.Time
}

func newCredHelper(path, uri string) *credHelper {
	return &credHelper{path: path, uri: uri, now: time.Now, lock: make(chan struct{}, 1)}
}

type credRequest struct {
	URI string `json:"uri"`
}

type credResponse struct {
	Headers map[string][]string `json:"headers"`
	Expires string              `json:"expires,omitempty"`
}

// get returns the helper's headers, running it when they are missing or
// expired. Only one run happens at a time.
func (h *credHelper) get(ctx context.Context) ([][2]string, error) {
	select {
	case h.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.lock }()
	if h.headers != nil && h.now().Before(h.expires) {
		return h.headers, nil
	}
	hs, exp, err := h.run(ctx)
	if err != nil {
		return nil, err
	}
	h.headers, h.expires = hs, exp
	return hs, nil
}

// run runs the helper once and parses its answer.
func (h *credHelper) run(ctx context.Context) ([][2]string, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, credHelperTimeout)
	defer cancel()
	in, _ := json.Marshal(credRequest{URI: h.uri})
	cmd := exec.CommandContext(ctx, h.path, "get")
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (did not answer within %s)", err, credHelperTimeout)
		}
		if msg != "" {
			return nil, time.Time{}, fmt.Errorf("credential helper %s get: %w: %s", h.path, err, msg)
		}
		return nil, time.Time{}, fmt.Errorf("credential helper %s get: %w", h.path, err)
	}
	var resp credResponse
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil {
		return nil, time.Time{}, fmt.Errorf("credential helper %s get: output is not the JSON {\"headers\": {...}} the protocol asks for: %w", h.path, err)
	}
	exp := h.now().Add(credHelperCacheFor)
	if resp.Expires != "" {
		t, err := time.Parse(time.RFC3339, resp.Expires)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("credential helper %s get: expires %q is not an RFC 3339 time", h.path, resp.Expires)
		}
		exp = t
	}
	names := make([]string, 0, len(resp.Headers))
	for n := range resp.Headers {
		names = append(names, n)
	}
	sort.Strings(names)
	hs := [][2]string{}
	for _, n := range names {
		for _, v := range resp.Headers[n] {
			hs = append(hs, [2]string{strings.ToLower(n), v})
		}
	}
	return hs, exp, nil
}

// requestMetadataKey carries REAPI's RequestMetadata on every call.
const requestMetadataKey = "build.bazel.remote.execution.v2.requestmetadata-bin"

// outgoing returns ctx with the client's headers, the credential
// helper's, and a RequestMetadata naming bld as the tool.
func (c *Client) outgoing(ctx context.Context, static [][2]string, reqMD string) (context.Context, error) {
	kv := make([]string, 0, 2*len(static)+4)
	for _, h := range static {
		kv = append(kv, h[0], h[1])
	}
	if c.creds != nil {
		hs, err := c.creds.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("remote %s: %w", c.target, err)
		}
		for _, h := range hs {
			kv = append(kv, h[0], h[1])
		}
	}
	kv = append(kv, requestMetadataKey, reqMD)
	return metadata.AppendToOutgoingContext(ctx, kv...), nil
}

// requestMetadata is the serialized RequestMetadata sent with every call.
func requestMetadata(version, invocation string) string {
	b, _ := proto.Marshal(&repb.RequestMetadata{
		ToolDetails:      &repb.ToolDetails{ToolName: "bld", ToolVersion: version},
		ToolInvocationId: invocation,
	})
	return string(b)
}

// interceptors add metadata to, and count, every call.
func (c *Client) interceptors(static [][2]string, reqMD string) []grpc.DialOption {
	md := reqMD
	unary := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, err := c.outgoing(ctx, static, md)
		if err != nil {
			return err
		}
		c.stats.rpcs.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	stream := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, err := c.outgoing(ctx, static, md)
		if err != nil {
			return nil, err
		}
		c.stats.rpcs.Add(1)
		return streamer(ctx, desc, cc, method, opts...)
	}
	return []grpc.DialOption{grpc.WithUnaryInterceptor(unary), grpc.WithStreamInterceptor(stream)}
}
