package remote

import (
	"strings"
	"testing"

	"bld/exec/digest"
	"bld/exec/reapi"
)

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		in, name, value, err string
	}{
		{in: "Authorization=Bearer x=y", name: "authorization", value: "Bearer x=y"},
		{in: "x-api-key=", name: "x-api-key", value: ""},
		{in: "noequals", err: "want NAME=VALUE"},
		{in: "=v", err: "empty name"},
		{in: "a b=c", err: "may contain only"},
		{in: "grpc-timeout=1", err: "reserved"},
		{in: "x-bin=1", err: "binary"},
		{in: "x=\n", err: "printable"},
	} {
		n, v, err := ParseHeader(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseHeader(%q) = %v, want error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || n != tc.name || v != tc.value {
			t.Errorf("ParseHeader(%q) = %q, %q, %v; want %q, %q", tc.in, n, v, err, tc.name, tc.value)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, addr, norm string
		tls            bool
		err            string
	}{
		{in: "localhost:8980", addr: "localhost:8980", norm: "grpc://localhost:8980"},
		{in: "grpc://127.0.0.1:1", addr: "127.0.0.1:1", norm: "grpc://127.0.0.1:1"},
		{in: "grpcs://remote.example.com", addr: "remote.example.com:443", norm: "grpcs://remote.example.com:443", tls: true},
		{in: "grpcs://[::1]:9/", addr: "[::1]:9", norm: "grpcs://[::1]:9", tls: true},
		{in: "https://x:1", err: "gRPC only"},
		{in: "ftp://x:1", err: "unknown scheme"},
		{in: "grpc://x", err: "no port"},
		{in: "grpc://x:1/path", err: "want grpc://"},
	} {
		addr, tls, norm, err := ParseTarget(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseTarget(%q) = %v, want error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || addr != tc.addr || norm != tc.norm || tls != tc.tls {
			t.Errorf("ParseTarget(%q) = %q, %v, %q, %v", tc.in, addr, tls, norm, err)
		}
	}
}

func TestOutputInlined(t *testing.T) {
	some := digest.OfBytes([]byte("x"))
	for _, tc := range []struct {
		r    reapi.ActionResult
		want bool
	}{
		{reapi.ActionResult{}, true},
		{reapi.ActionResult{StdoutRaw: []byte("x"), StdoutDigest: some}, true},
		{reapi.ActionResult{StdoutDigest: some}, false},
		{reapi.ActionResult{StdoutRaw: []byte("x"), StderrDigest: some}, false},
		{reapi.ActionResult{StdoutDigest: digest.Empty, StderrRaw: []byte("y")}, true},
	} {
		if got := OutputInlined(&tc.r); got != tc.want {
			t.Errorf("OutputInlined(%+v) = %v, want %v", tc.r, got, tc.want)
		}
	}
}
