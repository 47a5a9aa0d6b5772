package zktest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// securePort is the members' TLS client port (secureClientPort), served
// beside the plain one when the cluster runs WithTLS.
const securePort = "2281/tcp"

// TLS is what a cluster made WithTLS hands its clients: its certificate
// authority, and a client certificate it signed, made at test time.
type TLS struct {
	// CA verifies the servers' certificates, which name "localhost",
	// 127.0.0.1 and the members' network aliases (zk1, zk2, ...).
	CA *x509.CertPool
	// CAPEM is the authority's certificate, PEM encoded.
	CAPEM []byte
	// Client is a client certificate the servers accept (ssl.clientAuth is
	// "want"), whose subject is ClientSubject: the identity ZooKeeper's
	// x509 authentication provider gives a session that presents it.
	Client        tls.Certificate
	ClientSubject string
	// ClientCertPEM and ClientKeyPEM are the client certificate and key,
	// PEM encoded, for tools that read files.
	ClientCertPEM, ClientKeyPEM []byte

	serverPEM []byte // the servers' key and certificate, for their keystore
}

// Config returns a client TLS configuration that trusts the cluster's
// authority and presents the client certificate.
func (t *TLS) Config() *tls.Config {
	return &tls.Config{RootCAs: t.CA, Certificates: []tls.Certificate{t.Client}, MinVersion: tls.VersionTLS12}
}

// newTLS makes an authority, a server certificate for members zk1..zkN,
// and a client certificate.
func newTLS(members int) (*TLS, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zktest CA"},
		NotBefore: now, NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	issue := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (certPEM, keyPEM []byte, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: subject, NotBefore: now, NotAfter: now.Add(48 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: dns, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
	}
	dns := []string{"localhost"}
	for i := 1; i <= members; i++ {
		dns = append(dns, fmt.Sprintf("zk%d", i))
	}
	serverCert, serverKey, err := issue(2, pkix.Name{CommonName: "zktest server"}, x509.ExtKeyUsageServerAuth, dns, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: "zktest client", Organization: []string{"zkrecipes"}}
	clientCert, clientKey, err := issue(3, subject, x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, err
	}
	client, err := tls.X509KeyPair(clientCert, clientKey)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &TLS{CA: pool, CAPEM: caPEM, Client: client, ClientSubject: subject.String(),
		ClientCertPEM: clientCert, ClientKeyPEM: clientKey,
		serverPEM: append(append(serverKey, serverCert...), caPEM...)}, nil
}

// tlsConfig is what a member's zoo.cfg says to serve TLS on securePort
// (keys zoo.cfg does not know become zookeeper.* system properties).
var tlsConfig = []string{
	"secureClientPort=2281",
	"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
	"ssl.keyStore.location=/conf/tls/server.pem", "ssl.keyStore.type=PEM",
	"ssl.trustStore.location=/conf/tls/ca.pem", "ssl.trustStore.type=PEM",
	"ssl.clientAuth=want",
	"authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider",
}
