package main

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
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// writeSelfSigned writes a new certificate for 127.0.0.1 and its key to the two
// files, and returns a pool that trusts only it.
func writeSelfSigned(t *testing.T, certFile, keyFile, name string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// With --tls-cert and --tls-key both listeners serve TLS (REST over HTTP/2 too),
// and SIGHUP makes new connections get a renewed certificate without a restart.
func TestTLSOnBothListenersReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeSelfSigned(t, certFile, keyFile, "first")
	cmd, stderr, exited := startProcess(t, "serve", "--tls-cert", certFile, "--tls-key", keyFile)
	httpAddr := waitForServing(t, stderr, exited)
	grpcAddr := regexp.MustCompile(`grpc=([0-9.]+:[0-9]+)`).FindStringSubmatch(stderr.String())[1]

	rest := func(pool *x509.CertPool) (*http.Response, error) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
		res, err := client.Get("https://" + httpAddr + "/health")
		if err == nil {
			res.Body.Close()
		}
		return res, err
	}
	grpcHealth := func(pool *x509.CertPool) error {
		conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = grpc_health_v1.NewHealthClient(conn).Check(t.Context(), &grpc_health_v1.HealthCheckRequest{})
		return err
	}
	res, err := rest(first)
	if err != nil || res.StatusCode != 200 || res.ProtoMajor != 2 {
		t.Fatalf("REST over TLS: %v %v", res, err)
	}
	if err := grpcHealth(first); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
	if res, err := http.Get("http://" + httpAddr + "/health"); err == nil && res.StatusCode == 200 {
		t.Error("plain HTTP is served beside TLS")
	}

	second := writeSelfSigned(t, certFile, keyFile, "second")
	cmd.Process.Signal(syscall.SIGHUP)
	waitForLog(t, stderr, exited, "reloaded the TLS certificate")
	if _, err := rest(second); err != nil {
		t.Errorf("REST after SIGHUP with the new certificate: %v", err)
	}
	if err := grpcHealth(second); err != nil {
		t.Errorf("gRPC after SIGHUP with the new certificate: %v", err)
	}
	if _, err := rest(first); err == nil {
		t.Error("REST still serves the old certificate after SIGHUP")
	}

	// A renewal that does not load keeps the certificate in use.
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitForLog(t, stderr, exited, "kept the TLS certificate in use")
	if _, err := rest(second); err != nil {
		t.Errorf("REST after a failed reload: %v", err)
	}
}
