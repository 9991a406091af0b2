package grpcclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"bld/exec/remote"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	smpb "github.com/bazelbuild/remote-apis/build/bazel/semver"
	bspb "google.golang.org/genproto/googleapis/bytestream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// maxMessage is the largest gRPC message the client sends or accepts.
const maxMessage = 64 << 20

// The API versions this client speaks.
var (
	minAPI = &smpb.SemVer{Major: 2, Minor: 0}
	maxAPI = &smpb.SemVer{Major: 2, Minor: 3}
)

// DialService is Dial as a pipe.Dialer: the service bld-remote serves.
func DialService(ctx context.Context, cfg remote.Config) (remote.Service, error) {
	c, err := Dial(ctx, cfg)
	if err != nil {
		return nil, err // not a nil *Client in a non-nil interface
	}
	return c, nil
}

// Dial connects to cfg.Target and asks for the server's capabilities. It
// fails, with an error naming the target and saying what to do, when the
// service cannot be reached within min(cfg.Timeout, 5s), does not offer
// SHA-256 digests, or speaks no REAPI version in 2.0..2.3 (a server that
// advertises no version counts as 2.0).
func Dial(ctx context.Context, cfg remote.Config) (*Client, error) {
	addr, useTLS, target, err := remote.ParseTarget(cfg.Target)
	if err != nil {
		return nil, err
	}
	c := &Client{
		target:    target,
		instance:  cfg.InstanceName,
		timeout:   cfg.Timeout,
		queueWait: cfg.QueueTimeout,
		retry:     defaultRetry,
	}
	if c.timeout <= 0 {
		c.timeout = remote.DefaultTimeout
	}
	for _, h := range cfg.Headers {
		if _, _, err := remote.ParseHeader(h[0] + "=" + h[1]); err != nil {
			return nil, fmt.Errorf("remote %s: %w", target, err)
		}
	}
	static := make([][2]string, len(cfg.Headers))
	for i, h := range cfg.Headers {
		static[i] = [2]string{strings.ToLower(h[0]), h[1]}
	}
	if cfg.CredentialHelper != "" {
		// The helper sees the target as the user wrote it (Bazel passes
		// the --remote_cache/--remote_executor URI), with a scheme.
		uri := cfg.Target
		if !strings.Contains(uri, "://") {
			uri = "grpc://" + uri
		}
		c.creds = newCredHelper(cfg.CredentialHelper, uri)
	}

	opts := c.interceptors(static, requestMetadata(cfg.ToolVersion, cfg.InvocationID))
	opts = append(opts, grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
	if useTLS {
		tc, err := tlsConfig(cfg, addr)
		if err != nil {
			return nil, fmt.Errorf("remote %s: %w", target, err)
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	} else {
		if cfg.TLSCA != "" || cfg.TLSCert != "" || cfg.TLSKey != "" {
			return nil, fmt.Errorf("remote %s: TLS certificates are given but the target is plaintext; use grpcs://%s", target, addr)
		}
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("remote %s: %w", target, err)
	}
	c.conn = conn
	c.cas = repb.NewContentAddressableStorageClient(conn)
	c.ac = repb.NewActionCacheClient(conn)
	c.exec = repb.NewExecutionClient(conn)
	c.bs = bspb.NewByteStreamClient(conn)
	c.capsCli = repb.NewCapabilitiesClient(conn)

	if err := c.getCapabilities(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// tlsConfig builds the TLS configuration for addr from cfg's files.
func tlsConfig(cfg remote.Config, addr string) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(addr)
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if cfg.TLSCA != "" {
		pem, err := os.ReadFile(cfg.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA %s: no PEM certificate in it", cfg.TLSCA)
		}
		tc.RootCAs = pool
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("a TLS client certificate needs both the certificate and its key")
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// getCapabilities asks the server what it offers and checks that bld can
// use it, within min(timeout, 5s) for all tries.
func (c *Client) getCapabilities(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, min(c.timeout, dialTimeoutCap))
	defer cancel()
	var caps *repb.ServerCapabilities
	err := c.call(ctx, "GetCapabilities", func(ctx context.Context) error {
		var err error
		caps, err = c.capsCli.GetCapabilities(ctx, &repb.GetCapabilitiesRequest{InstanceName: c.instance})
		return err
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, remote.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", remote.ErrUnavailable, err)
		}
		return fmt.Errorf("%w\n\t%s", err, dialHint(err, c.target))
	}
	if !apiCompatible(caps) {
		return fmt.Errorf("remote %s: the server speaks REAPI %s..%s; bld speaks %s..%s; use a newer server or build without the remote",
			c.target, verString(lowAPI(caps)), verString(highAPI(caps)), verString(minAPI), verString(maxAPI))
	}
	if !offersSHA256(caps) {
		return fmt.Errorf("remote %s: the server does not offer SHA-256 digests (offers %v); configure the instance %q for SHA256 or build without the remote",
			c.target, digestFunctions(caps), c.instance)
	}
	c.caps = caps
	c.maxBatch, c.planLimit = batchLimit(caps.GetCacheCapabilities().GetMaxBatchTotalSizeBytes())
	return nil
}

func lowAPI(caps *repb.ServerCapabilities) *smpb.SemVer {
	if v := caps.GetLowApiVersion(); v != nil {
		return v
	}
	if v := caps.GetDeprecatedApiVersion(); v != nil {
		return v
	}
	if v := caps.GetHighApiVersion(); v != nil {
		return v
	}
	return minAPI
}

func highAPI(caps *repb.ServerCapabilities) *smpb.SemVer {
	if v := caps.GetHighApiVersion(); v != nil {
		return v
	}
	return lowAPI(caps)
}

// apiCompatible reports whether the server's version range overlaps the client's.
func apiCompatible(caps *repb.ServerCapabilities) bool {
	return verCmp(lowAPI(caps), maxAPI) <= 0 && verCmp(highAPI(caps), minAPI) >= 0
}

// verCmp compares major.minor.patch (prerelease ignored).
func verCmp(a, b *smpb.SemVer) int {
	for _, d := range [...]int32{a.GetMajor() - b.GetMajor(), a.GetMinor() - b.GetMinor(), a.GetPatch() - b.GetPatch()} {
		if d != 0 {
			return int(d)
		}
	}
	return 0
}

func verString(v *smpb.SemVer) string {
	s := fmt.Sprintf("%d.%d", v.GetMajor(), v.GetMinor())
	if v.GetPatch() != 0 {
		s += fmt.Sprintf(".%d", v.GetPatch())
	}
	if v.GetPrerelease() != "" {
		s += "-" + v.GetPrerelease()
	}
	return s
}

func digestFunctions(caps *repb.ServerCapabilities) []repb.DigestFunction_Value {
	var fs []repb.DigestFunction_Value
	fs = append(fs, caps.GetCacheCapabilities().GetDigestFunctions()...)
	fs = append(fs, caps.GetExecutionCapabilities().GetDigestFunctions()...)
	if f := caps.GetExecutionCapabilities().GetDigestFunction(); f != repb.DigestFunction_UNKNOWN {
		fs = append(fs, f)
	}
	slices.Sort(fs)
	return slices.Compact(fs)
}

func offersSHA256(caps *repb.ServerCapabilities) bool {
	return slices.Contains(digestFunctions(caps), repb.DigestFunction_SHA256)
}

// batchLimit returns MaxBatchBytes and the limit batches are planned
// under given the advertised size: the advertised size (at most
// maxMessage), planned exactly; or when none, gRPC's default 4 MiB
// message limit, planned with a margin for what servers count beyond the
// message itself.
func batchLimit(advertised int64) (maxBatch, plan int64) {
	switch {
	case advertised <= 0:
		return defaultMaxBatch, defaultMaxBatch - 16<<10
	case advertised > maxMessage:
		return maxMessage, maxMessage
	}
	return advertised, advertised
}

// dialHint says what to do about a failed GetCapabilities.
func dialHint(err error, target string) string {
	switch statusCode(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return "the server refused the credentials: check --remote_header, the credential helper or the TLS client certificate"
	case codes.Unimplemented:
		return fmt.Sprintf("%s does not implement the Capabilities service: is it a REAPI v2 server (not an HTTP cache)?", target)
	case codes.NotFound, codes.InvalidArgument:
		return "check the instance name"
	}
	return fmt.Sprintf("check that the service is running at %s and the address is right (grpcs:// for TLS), or build without the remote", target)
}
