package remote

import (
	"fmt"
	"strings"
)

// ParseTarget reads a target (grpc://HOST:PORT, grpcs://HOST[:PORT], or a
// bare HOST:PORT) and returns its address, whether it uses TLS, and the
// normalized target ("grpc://host:port").
func ParseTarget(t string) (addr string, useTLS bool, norm string, err error) {
	scheme, rest, ok := strings.Cut(t, "://")
	if !ok {
		scheme, rest = "grpc", t
	}
	switch strings.ToLower(scheme) {
	case "grpc":
	case "grpcs":
		useTLS = true
	case "http", "https":
		return "", false, "", fmt.Errorf("remote %s: bld speaks REAPI over gRPC only; use grpc://host:port or grpcs://host:port", t)
	default:
		return "", false, "", fmt.Errorf("remote %s: unknown scheme %q; use grpc://host:port or grpcs://host:port", t, scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || strings.Contains(rest, "/") {
		return "", false, "", fmt.Errorf("remote %q: want grpc://host:port or grpcs://host:port", t)
	}
	if !hasPort(rest) {
		// No port: the scheme's default.
		if useTLS {
			rest = joinHostPort(strings.Trim(rest, "[]"), "443")
		} else {
			return "", false, "", fmt.Errorf("remote %q: no port; want grpc://host:port", t)
		}
	}
	s := "grpc"
	if useTLS {
		s = "grpcs"
	}
	return rest, useTLS, s + "://" + rest, nil
}

// CheckTarget reports whether t is a target ParseTarget accepts, without
// connecting: a command line checks its flags before anything runs.
func CheckTarget(t string) error {
	_, _, _, err := ParseTarget(t)
	return err
}

// hasPort reports whether s is "host:port" or "[host]:port" as
// net.SplitHostPort reads it. (This package does not import net: that
// would link the cgo resolver into bld, and a dynamically linked bld
// starts slower; package pipe says why it matters.)
func hasPort(s string) bool {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		return end > 0 && strings.HasPrefix(s[end+1:], ":") && !strings.ContainsAny(s[end+2:], ":[]") &&
			!strings.ContainsAny(s[1:end], "[]")
	}
	i := strings.LastIndexByte(s, ':')
	return i >= 0 && !strings.ContainsAny(s[:i], ":[]") && !strings.ContainsAny(s[i+1:], "[]")
}

// joinHostPort is net.JoinHostPort.
func joinHostPort(host, port string) string {
	if strings.ContainsRune(host, ':') {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}
