package ws

import (
	"context"
	"errors"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// WebSocket close codes the server uses besides the RFC 6455 ones (1000
// normal, 1001 shutting down, 1002 unsupported subprotocol, 1008 too many
// malformed frames, 1009 frame over the read limit, 1011 internal error).
const (
	// CloseUnauthorized: authentication failed at upgrade (HTTP 401).
	CloseUnauthorized websocket.StatusCode = 4401
	// CloseForbidden: authentication refused the client (HTTP 403).
	CloseForbidden websocket.StatusCode = 4403
	// CloseSlowConsumer: a subscription's buffer overflowed because the
	// client did not read fast enough. Every message up to the last one
	// written was delivered; reconnect and resubscribe with since set to the
	// last cursor received to lose nothing.
	CloseSlowConsumer websocket.StatusCode = 4429
	// CloseRateLimited: authentication refused the connection for a rate
	// limit (HTTP 429, a *transport.LimitError); the reason is
	// "rate_limited". Wait before reconnecting. It is the same code as
	// CloseSlowConsumer: both ask the client to slow down.
	CloseRateLimited websocket.StatusCode = 4429
)

// Errors returned by the Client. Match them with errors.Is.
var (
	// ErrClosed: the client was closed (or ended for good after a fatal
	// close code, see Client.Err).
	ErrClosed = errors.New("ws: client closed")
	// ErrDisconnected: the connection dropped while a publish or request
	// was waiting for its answer. The operation may or may not have taken
	// effect; the client reconnects on its own.
	ErrDisconnected = errors.New("ws: disconnected")
)

// Error is an error frame the server sent in answer to an operation. Code is
// one of the transport codes (transport.CodeForbidden, …).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "ws: server error " + e.Code + ": " + e.Message }

// Is makes errors.Is match an Error against the transport sentinel of its
// code: transport.ErrForbidden for "forbidden", transport.ErrUnauthenticated
// for "unauthorized", transport.ErrBadRequest, transport.ErrTooLarge,
// transport.ErrLimit ("rate_limited"), transport.ErrNotFound,
// transport.ErrUnavailable, pubsub.ErrNotSupported and
// context.DeadlineExceeded ("timeout").
func (e *Error) Is(target error) bool {
	want, ok := codeErrors[e.Code]
	return ok && target == want
}

// codeErrors maps the transport codes of error frames to the sentinels an
// Error matches.
var codeErrors = map[string]error{
	transport.CodeForbidden:    transport.ErrForbidden,
	transport.CodeUnauthorized: transport.ErrUnauthenticated,
	transport.CodeBadRequest:   transport.ErrBadRequest,
	transport.CodeTooLarge:     transport.ErrTooLarge,
	transport.CodeRateLimited:  transport.ErrLimit,
	transport.CodeNotFound:     transport.ErrNotFound,
	transport.CodeUnavailable:  transport.ErrUnavailable,
	transport.CodeNotSupported: pubsub.ErrNotSupported,
	transport.CodeTimeout:      context.DeadlineExceeded,
}
