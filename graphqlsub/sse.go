package graphqlsub

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard-go/switchboard/transport"
)

// sseStream is one GraphQL over SSE response (distinct connections mode).
// Only its ServeHTTP goroutine writes; goAway and kill just cancel it.
type sseStream struct{ cancel context.CancelFunc }

func (s *sseStream) goAway() { s.cancel() }
func (s *sseStream) kill()   { s.cancel() }

// serveSSE runs one operation and streams its results as "next" events,
// ending with a "complete" event that carries an empty data field (so that
// EventSource dispatches it). Request errors travel in a "next" event too,
// as the protocol asks; only malformed HTTP requests and refused
// credentials get a non-200 status.
func (h *Handler) serveSSE(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeErrorBody(w, mediaJSON, http.StatusMethodNotAllowed, transport.CodeBadRequest, "method not allowed: use GET or POST")
		return
	}
	req, err := h.readRequest(w, r)
	if err != nil {
		writeRequestError(w, mediaJSON, err)
		return
	}
	ctx, _, err := h.opts.Auth.AuthenticateRequest(r, "graphql")
	if err != nil {
		if transport.Code(err) == transport.CodeUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
		}
		writeErrorBody(w, mediaJSON, transport.HTTPStatus(err), transport.Code(err), err.Error())
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &sseStream{cancel: cancel}
	if err := h.begin(s); err != nil {
		writeErrorBody(w, mediaJSON, transport.HTTPStatus(err), transport.Code(err), err.Error())
		return
	}
	defer h.end(s)

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", mediaEventStream+"; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		h.opts.Logger.Warn("graphqlsub: response cannot stream", "err", err)
		return
	}
	write := func(b []byte) bool {
		if d := h.opts.WriteTimeout; d > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(d))
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}

	results, err := h.start(ctx, req)
	if err != nil {
		h.opts.Logger.Warn("graphqlsub: executor failed", "err", err)
		write(appendEvent(nil, msgNext, errorsResult(transport.CodeInternal, "internal error")))
		write(appendEvent(nil, msgComplete, nil))
		return
	}
	var tick <-chan time.Time
	if d := h.opts.KeepAlive; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		tick = t.C
	}
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if !write([]byte(":\n\n")) {
				return
			}
		case res, ok := <-results:
			if !ok {
				if ctx.Err() == nil {
					write(appendEvent(buf[:0], msgComplete, nil))
				}
				return
			}
			buf = appendEvent(buf[:0], msgNext, appendResult(nil, res))
			if !write(buf) {
				return
			}
		}
	}
}

// appendEvent appends an SSE event "event: <typ>\ndata: <data>\n\n". data
// is compact JSON (no line breaks) or empty, which still writes "data:" so
// that EventSource dispatches the event.
func appendEvent(dst []byte, typ string, data []byte) []byte {
	dst = fmt.Appendf(dst, "event: %s\ndata:", typ)
	if len(data) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, data...)
	}
	return append(dst, '\n', '\n')
}
