package grpcclient

import (
	"context"
	"strings"
	"testing"

	"bld/exec/digest"
	"bld/exec/remote"
	"bld/exec/remote/remotetest"
)

func TestTLS(t *testing.T) {
	certs, err := remotetest.NewTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, remotetest.Options{TLS: certs.ServerTLS(false)})
	c := dial(t, s, remote.Config{Target: "grpcs://" + s.Addr(), TLSCA: certs.CAFile})
	if _, err := c.Upload(context.Background(), []remote.Blob{blobOf([]byte("over TLS"))}); err != nil {
		t.Fatal(err)
	}

	// The system's roots do not trust the test CA.
	if _, err := Dial(context.Background(), remote.Config{Target: "grpcs://" + s.Addr(), Timeout: 2e9}); err == nil {
		t.Error("untrusted server certificate accepted")
	}
	// Plaintext to a TLS server fails.
	if _, err := Dial(context.Background(), remote.Config{Target: "grpc://" + s.Addr(), Timeout: 2e9}); err == nil {
		t.Error("plaintext to a TLS server succeeded")
	}
	// TLS files with a plaintext target are refused at once.
	if _, err := Dial(context.Background(), remote.Config{Target: "grpc://" + s.Addr(), TLSCA: certs.CAFile}); err == nil || !strings.Contains(err.Error(), "grpcs://") {
		t.Errorf("TLS files with grpc://: %v", err)
	}
}

func TestMTLS(t *testing.T) {
	certs, err := remotetest.NewTestCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, remotetest.Options{TLS: certs.ServerTLS(true)})
	c := dial(t, s, remote.Config{Target: "grpcs://" + s.Addr(), TLSCA: certs.CAFile, TLSCert: certs.ClientCertFile, TLSKey: certs.ClientKeyFile})
	if _, err := c.FindMissing(context.Background(), []digest.Digest{digest.OfBytes([]byte("x"))}); err != nil {
		t.Fatal(err)
	}
	// Without the client certificate the handshake fails.
	if _, err := Dial(context.Background(), remote.Config{Target: "grpcs://" + s.Addr(), TLSCA: certs.CAFile, Timeout: 2e9}); err == nil {
		t.Error("mTLS server accepted a client without a certificate")
	}
	// A certificate without its key is a configuration error.
	_, err = Dial(context.Background(), remote.Config{Target: "grpcs://" + s.Addr(), TLSCA: certs.CAFile, TLSCert: certs.ClientCertFile})
	if err == nil || !strings.Contains(err.Error(), "key") {
		t.Errorf("certificate without key: %v", err)
	}
}
