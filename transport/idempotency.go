package transport

import (
	"fmt"
	"unicode/utf8"

	"github.com/switchboard-go/switchboard/internal/clip"
)

// HeaderIdempotencyKey is the REST request header carrying a publisher's
// idempotency key: it becomes the message's ID (pubsub.Message.ID), so a
// POST repeated with the same key within the broker's dedup window is
// answered with the original receipt and not delivered again.
const HeaderIdempotencyKey = "Idempotency-Key"

// MaxKeyBytes bounds an idempotency key (a publisher-supplied message ID)
// on every transport: AMQP carries it as a short string and MQTT as a
// user property, and a broker remembers each one for its dedup window.
const MaxKeyBytes = 200

// CheckKey validates a publisher's idempotency key (the REST
// Idempotency-Key header, the WebSocket frame's "key", the gRPC
// PublishRequest key): "" (none) or 1 to MaxKeyBytes bytes of UTF-8
// without control characters. The error wraps ErrBadRequest.
func CheckKey(key string) error {
	if len(key) > MaxKeyBytes {
		return fmt.Errorf("%w: idempotency key longer than %d bytes", ErrBadRequest, MaxKeyBytes)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: idempotency key is not UTF-8", ErrBadRequest)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: idempotency key %q holds a control character", ErrBadRequest, clip.String(key))
		}
	}
	return nil
}
