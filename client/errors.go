package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// ErrUnreachable is wrapped by the error of a call that got no HTTP answer: the
// connection was refused, the name did not resolve, TLS failed, or the server
// hung up.
var ErrUnreachable = errors.New("cannot reach the server")

// Error is an answer outside 2xx. Use errors.As to read it.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is MLflow's error_code, such as RESOURCE_DOES_NOT_EXIST. When the body
	// is not MLflow's error JSON (MLflow's own server answers 401 and 403 in plain
	// text) it is derived from StatusCode as MLflow's Python client does.
	Code string
	// Message is the server's message, the text of a plain-text body, or, for
	// an empty body or an HTML page, the status and the endpoint.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.StatusCode, e.Message)
}

// maxPlainMessage bounds the text kept from a plain-text error body.
const maxPlainMessage = 500

// newError reads an error answer of the endpoint ("GET /api/...").
func newError(status int, body []byte, endpoint string) *Error {
	var e struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.ErrorCode != "" {
		return &Error{StatusCode: status, Code: e.ErrorCode, Message: e.Message}
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" || msg[0] == '<' {
		// An HTML page, such as a 404 for a call this server does not have.
		msg = http.StatusText(status) + " for " + endpoint
	}
	if len(msg) > maxPlainMessage {
		cut := maxPlainMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return &Error{StatusCode: status, Code: codeOfStatus(status), Message: msg}
}

// codeOfStatus is MLflow's HTTP_STATUS_TO_ERROR_CODE (mlflow/exceptions.py).
func codeOfStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BAD_REQUEST"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "ENDPOINT_NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusNotImplemented:
		return "NOT_IMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "TEMPORARILY_UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL_ERROR"
}
