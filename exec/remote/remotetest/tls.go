package remotetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TestCerts is a throwaway PKI for TLS and mTLS tests: a self-signed CA, a
// server certificate for 127.0.0.1 and localhost, and a client certificate,
// all signed by the CA, with their PEM files in Dir.
type TestCerts struct {
	Dir string
	// PEM files: the CA certificate, the server's certificate and key, the
	// client's certificate and key (keys are PKCS#8 "PRIVATE KEY").
	CAFile, ServerCertFile, ServerKeyFile, ClientCertFile, ClientKeyFile string

	CAPool     *x509.CertPool
	ServerCert tls.Certificate
	ClientCert tls.Certificate
}

// NewTestCerts creates the certificates (ECDSA P-256, valid from an hour
// ago for a day) and writes ca.pem, server.pem, server.key, client.pem and
// client.key into dir, creating it if needed.
func NewTestCerts(dir string) (*TestCerts, error) {
	c := &TestCerts{
		Dir:            dir,
		CAFile:         filepath.Join(dir, "ca.pem"),
		ServerCertFile: filepath.Join(dir, "server.pem"),
		ServerKeyFile:  filepath.Join(dir, "server.key"),
		ClientCertFile: filepath.Join(dir, "client.pem"),
		ClientKeyFile:  filepath.Join(dir, "client.key"),
		CAPool:         x509.NewCertPool(),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "remotetest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	c.CAPool.AddCert(caCert)
	if err := writePEM(c.CAFile, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, server bool, certFile, keyFile string) (tls.Certificate, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if server {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
			tmpl.DNSNames = []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, err
		}
		kb, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return tls.Certificate{}, err
		}
		if err := writePEM(certFile, "CERTIFICATE", der); err != nil {
			return tls.Certificate{}, err
		}
		if err := writePEM(keyFile, "PRIVATE KEY", kb); err != nil {
			return tls.Certificate{}, err
		}
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	if c.ServerCert, err = leaf(2, "remotetest server", x509.ExtKeyUsageServerAuth, true, c.ServerCertFile, c.ServerKeyFile); err != nil {
		return nil, err
	}
	if c.ClientCert, err = leaf(3, "remotetest client", x509.ExtKeyUsageClientAuth, false, c.ClientCertFile, c.ClientKeyFile); err != nil {
		return nil, err
	}
	return c, nil
}

func writePEM(file, typ string, der []byte) error {
	return os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// ServerTLS is a server configuration for Options.TLS. With
// requireClientCert, clients must present a certificate signed by the CA
// (mTLS); a client without one fails the handshake.
func (c *TestCerts) ServerTLS(requireClientCert bool) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{c.ServerCert}, MinVersion: tls.VersionTLS12}
	if requireClientCert {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = c.CAPool
	}
	return cfg
}

// ClientTLS is a client configuration trusting the CA, presenting the
// client certificate when withClientCert is set.
func (c *TestCerts) ClientTLS(withClientCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: c.CAPool, MinVersion: tls.VersionTLS12}
	if withClientCert {
		cfg.Certificates = []tls.Certificate{c.ClientCert}
	}
	return cfg
}
