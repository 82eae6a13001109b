package sse

import (
	"errors"
	"fmt"
)

// Errors returned by the Client. Match them with errors.Is or errors.As.
var (
	// ErrEventTooLarge: a line or an event's data exceeded
	// Client.MaxEventBytes. The client reconnects (with Last-Event-ID),
	// since the rest of the stream cannot be parsed.
	ErrEventTooLarge = errors.New("sse: event too large")
	// ErrNotEventStream: the server answered 200 with a Content-Type other
	// than text/event-stream, which makes a browser give up too.
	ErrNotEventStream = errors.New("sse: response is not text/event-stream")
)

// StatusError is returned by Client.Run when the server answers with a
// status that ends the stream for good, as it would for a browser: 204 or
// any 4xx other than 408 and 429.
type StatusError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of the response body (up to 512 bytes).
	Body string
}

// Error reports the status and the start of the body.
func (e *StatusError) Error() string {
	return fmt.Sprintf("sse: server answered %d: %s", e.StatusCode, e.Body)
}
