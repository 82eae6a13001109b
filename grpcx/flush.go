package grpcx

import (
	"context"
	"net/http"
)

// batchWriter lets a stream hand several messages to connect, which flushes
// after every message, with one flush: while hold is set, Flush does
// nothing and the HTTP/2 server sends the data as its buffer fills. Only
// the handler's goroutine uses it (see holdFlush).
type batchWriter struct {
	http.ResponseWriter
	hold bool
}

// Flush flushes unless a stream holds flushes back.
func (w *batchWriter) Flush() {
	if w.hold {
		return
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *batchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type batchWriterKey struct{}

// holdFlush makes the Sends of a stream flush only when hold is false.
// It does nothing when the call was not served through Handler.ServeHTTP.
func holdFlush(ctx context.Context, hold bool) {
	if w, ok := ctx.Value(batchWriterKey{}).(*batchWriter); ok {
		w.hold = hold
	}
}

// maxHeld bounds the messages sent without a flush.
const maxHeld = 64
