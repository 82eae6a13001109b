package graphqlsub

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard-go/switchboard/internal/httpx"
	"github.com/switchboard-go/switchboard/transport"
)

// sseStream is one GraphQL over SSE response (distinct connections mode).
// Only its ServeHTTP goroutine writes; GoAway and Cut cancel it, which
// ends the stream after what was already written.
type sseStream struct{ cancel context.CancelFunc }

func (s *sseStream) GoAway() { s.cancel() }
func (s *sseStream) Cut()    { s.cancel() }

// serveSSE runs one operation and streams its results as "next" events,
// ending with a "complete" event that carries an empty data field (so that
// EventSource dispatches it). Request errors travel in a "next" event too,
// as the protocol asks; only malformed HTTP requests and refused
// credentials get a non-200 status.
func (h *Handler) serveSSE(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeErrorBody(w, mediaJSON, http.StatusMethodNotAllowed, transport.CodeMethodNotAllowed, "method not allowed: use GET or POST")
		return
	}
	req, err := h.readRequest(w, r)
	if err != nil {
		writeRequestError(w, mediaJSON, err)
		return
	}
	ctx, _, err := h.opts.Auth.AuthenticateRequest(r, "graphql")
	if err != nil {
		writeAuthError(w, mediaJSON, err)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := h.tr.Enter(); err != nil {
		refuse(w, mediaJSON, err)
		return
	}
	s := &sseStream{cancel: cancel}
	defer h.tr.Leave(s)
	h.tr.Attach(s)

	es, ok := h.openEventStream(w)
	if !ok {
		return
	}
	results, obs, err := h.start(ctx, req)
	if err != nil {
		h.opts.Logger.Warn("graphqlsub: executor failed", "err", err)
		es.write(appendEvent(nil, msgNext, errorsResult(transport.CodeInternal, "internal error")))
		es.write(appendEvent(nil, msgComplete, nil))
		return
	}
	defer obs.end()
	tick, stop := h.keepAliveTicker()
	defer stop()
	var b sseBatch
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if !es.write([]byte(":\n\n")) {
				return
			}
		case res, ok := <-results:
			b.reset()
			open := ok && b.collect(res, results)
			if len(b.buf) > 0 {
				if !es.write(b.buf) {
					return
				}
				for _, n := range b.sizes {
					obs.delivered(n.res, n.size)
				}
			}
			if !open {
				if ctx.Err() == nil {
					es.write(appendEvent(b.buf[:0], msgComplete, nil))
				}
				return
			}
		}
	}
}

// maxBatch is how many bytes of events an SSE stream gathers into one
// write and flush.
const maxBatch = 32 << 10

// sseBatch gathers the results that are ready into one write (one flush,
// one syscall under load, instead of one per result). Its buffers are
// reused from one batch to the next.
type sseBatch struct {
	buf, payload []byte
	sizes        []sized
}

type sized struct {
	res  *Result
	size int
}

// reset empties b for the next batch.
func (b *sseBatch) reset() { b.buf, b.sizes = b.buf[:0], b.sizes[:0] }

// collect encodes res and every result already waiting on results, up to
// maxBatch bytes, as next events; false when results closed.
func (b *sseBatch) collect(res *Result, results <-chan *Result) bool {
	for {
		b.payload = appendResult(b.payload[:0], res)
		n := len(b.buf)
		b.buf = appendEvent(b.buf, msgNext, b.payload)
		b.sizes = append(b.sizes, sized{res, len(b.buf) - n})
		if len(b.buf) >= maxBatch {
			return true
		}
		var ok bool
		select {
		case res, ok = <-results:
			if !ok {
				return false
			}
		default:
			return true
		}
	}
}

// eventStream is a text/event-stream response being written by its
// ServeHTTP goroutine.
type eventStream struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	timeout  time.Duration
	deadline time.Time // the write deadline last set
}

// openEventStream sends the 200 text/event-stream header; false when the
// response cannot stream (nothing more can be written then).
func (h *Handler) openEventStream(w http.ResponseWriter) (*eventStream, bool) {
	if !httpx.CanFlush(w) {
		// A 200 that ends at once would make EventSource reconnect
		// forever; say what is wrong instead.
		msg := fmt.Sprintf("graphqlsub: the ResponseWriter (%T) cannot flush: a middleware wraps it without Flush or Unwrap", w)
		h.opts.Logger.Warn(msg)
		writeErrorBody(w, mediaJSON, http.StatusInternalServerError, transport.CodeInternal, msg)
		return nil, false
	}
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", mediaEventStream+"; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		h.opts.Logger.Warn("graphqlsub: response cannot stream", "err", err)
		return nil, false
	}
	return &eventStream{w: w, rc: rc, timeout: h.opts.WriteTimeout}, true
}

// write sends b, bounded by WriteTimeout, and flushes it; false when the
// client is gone.
func (e *eventStream) write(b []byte) bool {
	if e.timeout > 0 {
		// Re-arm only when less than 3/4 of the timeout is left (as the
		// sse package does): a deadline per event costs under fan-out.
		if now := time.Now(); e.deadline.Sub(now) < e.timeout*3/4 {
			e.deadline = now.Add(e.timeout)
			_ = e.rc.SetWriteDeadline(e.deadline)
		}
	}
	if _, err := e.w.Write(b); err != nil {
		return false
	}
	return e.rc.Flush() == nil
}

// keepAliveTicker ticks every KeepAlive (a nil channel when keep-alives are
// off); stop releases it.
func (h *Handler) keepAliveTicker() (tick <-chan time.Time, stop func()) {
	d := h.opts.KeepAlive
	if d <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// appendEvent appends an SSE event "event: <typ>\ndata: <data>\n\n". data
// is compact JSON (no line breaks) or empty, which still writes "data:" so
// that EventSource dispatches the event.
func appendEvent(dst []byte, typ string, data []byte) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata:"...)
	if len(data) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, data...)
	}
	return append(dst, '\n', '\n')
}
