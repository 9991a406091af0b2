package remote

import (
	"net"
	"testing"
)

// TestHostPortAsNet: hasPort and joinHostPort agree with package net,
// which this package does not import.
func TestHostPortAsNet(t *testing.T) {
	for _, s := range []string{
		"host:80", "host:", "host", "1.2.3.4:5", "[::1]:80", "::1:80", "[::1]", "[::1]80",
		"[::1]:80:90", "a:b:c", "[a]:b", "[a:b", "a]:b", "[a]]:b", ":80", "", "[]:1", "h:[1]",
	} {
		_, _, err := net.SplitHostPort(s)
		if got, want := hasPort(s), err == nil; got != want {
			t.Errorf("hasPort(%q) = %v, net says %v (%v)", s, got, want, err)
		}
	}
	for _, h := range []string{"host", "::1", "1.2.3.4", "fe80::1%eth0"} {
		if got, want := joinHostPort(h, "443"), net.JoinHostPort(h, "443"); got != want {
			t.Errorf("joinHostPort(%q) = %q, net says %q", h, got, want)
		}
	}
}
