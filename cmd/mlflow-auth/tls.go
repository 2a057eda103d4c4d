package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// certificate serves the key pair of --tls-cert and --tls-key to both listeners and
// reads the files again on reload (SIGHUP), so a renewed certificate takes effect
// without a restart; connections made before keep the one they began with.
type certificate struct {
	certFile, keyFile string
	current           atomic.Pointer[tls.Certificate]
}

func loadCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the files again; on failure the certificate in use stays.
func (c *certificate) reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	c.current.Store(&pair)
	return nil
}

// reloadLogged is reload for SIGHUP: it says what happened.
func (c *certificate) reloadLogged() {
	if err := c.reload(); err != nil {
		slog.Error("kept the TLS certificate in use: the new one does not load", "err", err)
		return
	}
	slog.Info("reloaded the TLS certificate", "cert", c.certFile)
}

// config is the TLS configuration of both listeners (TLS 1.2 at least; HTTP/2 on REST).
func (c *certificate) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}
