package gcsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// testCA is a certificate authority made when a tenant stand-in starts: its
// key never leaves the process, and only a client given Roots trusts the
// stand-in's certificate.
type testCA struct {
	roots *x509.CertPool
	cert  tls.Certificate // the leaf for the stand-in's hosts
}

// newTestCA returns a CA and a leaf certificate for hosts, valid for a day.
func newTestCA(hosts []string) (*testCA, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gcsim tenant stand-in test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	return &testCA{roots: roots, cert: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key}}, nil
}

// serverConfig is the TLS configuration of the stand-in: TLS 1.2+, ALPN h2
// then http/1.1 (WebSocket upgrades use http/1.1).
func (ca *testCA) serverConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ca.cert},
		NextProtos: []string{"h2", "http/1.1"}}
}

func mustTestCA(hosts []string) *testCA {
	ca, err := newTestCA(hosts)
	if err != nil {
		panic(fmt.Sprintf("gcsim: making the tenant stand-in's test CA: %v", err))
	}
	return ca
}
