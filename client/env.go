package client

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrNoTrackingURI is FromEnvironment's error when MLFLOW_TRACKING_URI is unset.
var ErrNoTrackingURI = errors.New("MLFLOW_TRACKING_URI is not set: set it to the server's address, for example http://localhost:8080")

// FromEnvironment returns a client configured the way MLflow's own clients are:
//
//   - MLFLOW_TRACKING_URI: the server (required);
//   - MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD: Basic credentials,
//     each falling back on mlflow_tracking_username / mlflow_tracking_password
//     in section [mlflow] of ~/.mlflow/credentials; used when both are set;
//   - otherwise MLFLOW_TRACKING_TOKEN: a Bearer token;
//   - MLFLOW_TRACKING_INSECURE_TLS (true/false/1/0) or
//     MLFLOW_TRACKING_SERVER_CERT_PATH: TLS verification.
//
// opts are applied after the environment's settings.
func FromEnvironment(opts ...Option) (*Client, error) {
	uri := os.Getenv("MLFLOW_TRACKING_URI")
	if uri == "" {
		return nil, ErrNoTrackingURI
	}
	fileUser, filePassword, err := credentialsFile()
	if err != nil {
		return nil, err
	}
	// Per field, an empty variable counts as unset (MLflow's "env or file").
	username := cmp.Or(os.Getenv("MLFLOW_TRACKING_USERNAME"), fileUser)
	password := cmp.Or(os.Getenv("MLFLOW_TRACKING_PASSWORD"), filePassword)
	var env []Option
	switch token := os.Getenv("MLFLOW_TRACKING_TOKEN"); {
	case username != "" && password != "":
		env = append(env, WithBasicAuth(username, password))
	case token != "":
		env = append(env, WithBearerToken(token))
	}
	switch v := strings.ToLower(os.Getenv("MLFLOW_TRACKING_INSECURE_TLS")); v {
	case "true", "1":
		env = append(env, WithInsecureTLS())
	case "", "false", "0":
	default:
		return nil, fmt.Errorf("MLFLOW_TRACKING_INSECURE_TLS is %q: it must be true, false, 1 or 0", v)
	}
	if path := os.Getenv("MLFLOW_TRACKING_SERVER_CERT_PATH"); path != "" {
		env = append(env, WithServerCert(path))
	}
	return New(uri, append(env, opts...)...)
}

// credentialsFile reads ~/.mlflow/credentials as MLflow does with Python's
// configparser: section [mlflow], "key = value" or "key: value", keys in any
// case, # and ; comments, and %% for a literal %. A missing file is no error.
func credentialsFile() (username, password string, err error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", "", nil // no home, no file: MLflow reads nothing either
	}
	path := filepath.Join(home, ".mlflow", "credentials")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	var section string
	lines := bufio.NewScanner(f)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimSpace(lines.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			return "", "", fmt.Errorf("%s line %d: want key = value", path, n)
		}
		if section != "mlflow" {
			continue
		}
		value := strings.ReplaceAll(strings.TrimSpace(line[i+1:]), "%%", "%")
		switch strings.ToLower(strings.TrimSpace(line[:i])) {
		case "mlflow_tracking_username":
			username = value
		case "mlflow_tracking_password":
			password = value
		}
	}
	return username, password, lines.Err()
}
