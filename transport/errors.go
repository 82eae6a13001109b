package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Errors transports return for limits and bad input. Match with errors.Is.
var (
	// ErrTooLarge: a message or request body exceeds its limit.
	ErrTooLarge = errors.New("transport: too large")
	// ErrLimit: a connection, subscription or rate limit was reached.
	ErrLimit = errors.New("transport: limit reached")
	// ErrBadRequest: malformed input (an envelope, a query parameter).
	// It is the same value the internal decoders wrap.
	ErrBadRequest = wire.ErrBadRequest
	// ErrNotFound: nothing there (an unknown path or subscription id).
	ErrNotFound = errors.New("transport: not found")
	// ErrUnavailable: the server is shutting down or over capacity.
	ErrUnavailable = errors.New("transport: unavailable")
)

// Stable error codes, shared by every transport's wire format.
const (
	CodeBadRequest = "bad_request"
	// CodeMethodNotAllowed goes with HTTP 405 and an Allow header.
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeTooLarge         = "too_large"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeNotSupported     = "not_supported"
	CodeTimeout          = "timeout"
	CodeInternal         = "internal"
)

// Code maps an error to its stable code.
func Code(err error) string {
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrUnauthenticated):
		return CodeUnauthorized
	case errors.Is(err, ErrForbidden):
		return CodeForbidden
	case errors.Is(err, ErrTooLarge), errors.As(err, &mbe):
		return CodeTooLarge
	case errors.Is(err, ErrLimit), errors.Is(err, pubsub.ErrLimit):
		return CodeRateLimited
	case errors.Is(err, ErrBadRequest), errors.Is(err, pubsub.ErrInvalidTopic),
		errors.Is(err, pubsub.ErrInvalidFilter), errors.Is(err, pubsub.ErrInvalidCursor):
		return CodeBadRequest
	case errors.Is(err, ErrNotFound):
		return CodeNotFound
	case errors.Is(err, pubsub.ErrNotSupported):
		return CodeNotSupported
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, ErrUnavailable), errors.Is(err, pubsub.ErrClosed), errors.Is(err, pubsub.ErrUnavailable):
		return CodeUnavailable
	}
	return CodeInternal
}

// HTTPStatus maps an error to an HTTP status code.
func HTTPStatus(err error) int {
	switch Code(err) {
	case "":
		return http.StatusOK
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeNotSupported:
		return http.StatusNotImplemented
	case CodeTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of an error response:
// {"error":{"code":"bad_request","message":"…"}}.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError writes err as a JSON error response with the status from
// HTTPStatus, or status[0] when given. Internal errors are reported as
// "internal error" without their text, which may hold details the client
// should not see. An unavailable error (503) gets "Retry-After: 1" unless
// the handler set one; a *LimitError (429) gets its RetryAfter in seconds.
func WriteError(w http.ResponseWriter, err error, status ...int) {
	var b ErrorBody
	b.Error.Code = Code(err)
	b.Error.Message = err.Error()
	if b.Error.Code == CodeInternal {
		b.Error.Message = "internal error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if b.Error.Code == CodeUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
	}
	if b.Error.Code == CodeUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	if d, ok := RetryAfter(err); ok && b.Error.Code == CodeRateLimited && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryAfterSeconds(d))
	}
	code := HTTPStatus(err)
	if len(status) > 0 {
		code = status[0]
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(b)
}
