// Package client is a Go client for mlflow-auth's REST API, which is MLflow's own
// auth API (/api/2.0/mlflow/users/..., the permission calls, and the 3.13 unified
// users/permissions calls), with the request and response types generated from
// proto/mlflowauth/v1. It also works against MLflow's basic-auth server for every
// call that server has.
//
// Every RPC of UserService and PermissionService has a method of the same name
// and types as the generated gRPC client; AllUsers and AllResourcePermissions
// iterate over every page of the two paginated lists.
package client

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Client calls one server. It is safe for concurrent use.
type Client struct {
	base          *url.URL
	http          *http.Client
	authorization string // the Authorization header's value, or ""
}

type settings struct {
	basic, bearer string
	httpClient    *http.Client
	insecureTLS   bool
	serverCert    string
}

// Option configures a Client.
type Option func(*settings)

// WithBasicAuth sends HTTP Basic credentials, as MLflow's basic-auth expects.
// It wins over WithBearerToken, as in MLflow's clients.
func WithBasicAuth(username, password string) Option {
	return func(s *settings) {
		s.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+password))
	}
}

// BasicAuth returns the Basic credentials the client signs in with, if any,
// as net/http's Request.BasicAuth reads them: changing your own password needs
// the current one, which is this password.
func (c *Client) BasicAuth() (username, password string, ok bool) {
	encoded, found := strings.CutPrefix(c.authorization, "Basic ")
	if !found {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

// WithBearerToken sends "Authorization: Bearer <token>".
func WithBearerToken(token string) Option {
	return func(s *settings) { s.bearer = "Bearer " + token }
}

// WithHTTPClient uses hc for every request; configure TLS on its transport then,
// as the TLS options cannot change a client they did not build.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) { s.httpClient = hc }
}

// WithInsecureTLS skips verification of the server's certificate
// (MLFLOW_TRACKING_INSECURE_TLS).
func WithInsecureTLS() Option {
	return func(s *settings) { s.insecureTLS = true }
}

// WithServerCert trusts the PEM certificates in the file at path, instead of the
// system's, for the server's certificate (MLFLOW_TRACKING_SERVER_CERT_PATH).
func WithServerCert(path string) Option {
	return func(s *settings) { s.serverCert = path }
}

// requestTimeout is MLflow's default HTTP request timeout (MLFLOW_HTTP_REQUEST_TIMEOUT).
const requestTimeout = 120 * time.Second

// New returns a client for the server at trackingURI, such as
// http://localhost:8080 or https://mlflow.example.com/prefix.
func New(trackingURI string, opts ...Option) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(trackingURI, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("tracking URI %q is not an http:// or https:// address of a server", trackingURI)
	}
	var s settings
	for _, o := range opts {
		o(&s)
	}
	c := &Client{base: base, http: s.httpClient, authorization: cmp.Or(s.basic, s.bearer)}
	customTLS := s.insecureTLS || s.serverCert != ""
	switch {
	case s.insecureTLS && s.serverCert != "":
		return nil, errors.New("insecure TLS and a server certificate exclude each other: set only one of MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH")
	case customTLS && c.http != nil:
		return nil, errors.New("the TLS options cannot be combined with WithHTTPClient: configure TLS on that client's transport")
	case customTLS:
		transport, err := tlsTransport(s)
		if err != nil {
			return nil, err
		}
		c.http = &http.Client{Transport: transport, Timeout: requestTimeout}
	case c.http == nil:
		c.http = &http.Client{Timeout: requestTimeout}
	}
	return c, nil
}

// tlsTransport is Go's default transport with the TLS settings of s.
func tlsTransport(s settings) (*http.Transport, error) {
	config := &tls.Config{InsecureSkipVerify: s.insecureTLS}
	if s.serverCert != "" {
		pem, err := os.ReadFile(s.serverCert)
		if err != nil {
			return nil, fmt.Errorf("server certificate: %w", err)
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server certificate: no PEM certificate in %s", s.serverCert)
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = config
	return transport, nil
}

var (
	encode = protojson.MarshalOptions{UseProtoNames: true}
	decode = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// call sends req as MLflow's clients do (query parameters for GET, a JSON body
// otherwise) and decodes the answer into resp.
func (c *Client) call(ctx context.Context, method, path string, req, resp proto.Message) error {
	target := c.base.JoinPath(path)
	var body io.Reader
	if method == http.MethodGet {
		target.RawQuery = query(req).Encode()
	} else {
		b, err := encode.Marshal(req)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return err
	}
	if body != nil {
		// Exactly this value: MLflow up to 3.12 compares the header with it.
		hr.Header.Set("Content-Type", "application/json")
	}
	if c.authorization != "" {
		hr.Header.Set("Authorization", c.authorization)
	}
	res, err := c.http.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // its text repeats the URL
		}
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.base.Redacted(), err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return newError(res.StatusCode, data, method+" "+path)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil // 204, or an empty 200 that MLflow's clients also read as {}
	}
	if err := decode.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// query holds the set fields of a request; GET requests have only scalars.
func query(m proto.Message) url.Values {
	q := url.Values{}
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		q.Set(string(fd.Name()), v.String())
		return true
	})
	return q
}
