package mqtt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/estatehq/estate/internal/testenv"
)

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA, into dir.
func testPKI(t *testing.T, dir string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "estate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	issue := func(name string, serial int64, tmpl *x509.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		write(name+".pem", "CERTIFICATE", der)
		write(name+".key", "EC PRIVATE KEY", keyDER)
	}
	issue("server", 2, &x509.Certificate{Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	issue("client", 3, &x509.Certificate{Subject: pkix.Name{CommonName: "estate-gateway"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
}

// TestTLSWithClientCertificate connects through a mosquitto that requires a
// client certificate: the gateway with its CA and certificate, mosquitto_pub
// with its own.
func TestTLSWithClientCertificate(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} { // mosquitto reads them as its own user
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testPKI(t, dir)
	broker, _ := testenv.PrivateMosquitto(t, "",
		"cafile "+filepath.Join(dir, "ca.pem"), "certfile "+filepath.Join(dir, "server.pem"),
		"keyfile "+filepath.Join(dir, "server.key"), "require_certificate true")
	tlsBroker := strings.Replace(broker, "tcp://", "ssl://", 1)
	cfg := testConfig(t, "broker: "+tlsBroker+"\ntls: {ca_file: "+filepath.Join(dir, "ca.pem")+", cert_file: "+filepath.Join(dir, "client.pem")+
		", key_file: "+filepath.Join(dir, "client.key")+"}", threeDevices("tls-"))
	s := newTestStreamer(t, cfg)
	sink := newRecorder()
	runStreamer(t, s, sink)
	mosquittoPub(t, broker, "--cafile", filepath.Join(dir, "ca.pem"), "--cert", filepath.Join(dir, "client.pem"),
		"--key", filepath.Join(dir, "client.key"), "-t", "estate/s1/elevator/tls-lift-1/floor", "-m", "12")
	sink.waitFor(t, "a reading over TLS", 5*time.Second, func(r *recorder) bool { v, _ := r.value("tls-lift-1", "floor"); return v == 12 })

	// Without a client certificate the broker refuses the gateway.
	bare := testConfig(t, "broker: "+tlsBroker+"\ntls: {ca_file: "+filepath.Join(dir, "ca.pem")+"}", threeDevices("tls2-"))
	s2 := newTestStreamer(t, bare)
	c := s2.clientOptions()
	c.SetConnectRetry(false)
	if tok := newClient(c).Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		t.Fatal("connected without a client certificate")
	}
}
