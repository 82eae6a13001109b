package graphqlsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-go/switchboard/internal/wire"
	"github.com/switchboard-go/switchboard/transport"
)

// Single connection mode of GraphQL over SSE: PUT reserves a stream and
// answers 201 with a token; a GET or POST with Accept: text/event-stream and
// the token (header X-GraphQL-Event-Stream-Token or query parameter token)
// opens it; each operation is a POST (or GET) carrying the token and
// extensions.operationId, answered 202, whose results arrive on the stream
// as next {"id","payload"} and complete {"id"}; DELETE ?operationId= stops
// one.

const (
	tokenHeader = "X-GraphQL-Event-Stream-Token"
	tokenQuery  = "token"
	// reservationTimeout ends a reservation whose stream was not opened.
	reservationTimeout = 30 * time.Second
	// reservationQueue bounds the events waiting for a reservation's
	// stream; a full queue blocks the operations (back-pressure).
	reservationQueue = 256
)

// reservation is one single-connection stream, from PUT until its stream
// closes (or it expires). It counts as a session of the Handler; its
// operations' goroutines are waited for before it ends.
type reservation struct {
	h      *Handler
	token  string
	ctx    context.Context // carries the identity; cancelled when the reservation ends
	cancel context.CancelFunc
	events chan []byte
	expiry *time.Timer

	mu     sync.Mutex
	open   bool
	closed bool
	ops    map[string]*wsOp
	wg     sync.WaitGroup
}

// GoAway and Cut end the reservation: its stream ends after what was
// already written.
func (r *reservation) GoAway() { r.close() }
func (r *reservation) Cut()    { r.close() }

// close ends the reservation: its operations are cancelled, and it leaves
// the Handler's tracker once they have all returned.
func (r *reservation) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	expiry := r.expiry
	r.mu.Unlock()
	if expiry != nil {
		expiry.Stop()
	}
	r.cancel()
	r.h.mu.Lock()
	delete(r.h.reservations, r.token)
	r.h.mu.Unlock()
	go func() {
		r.wg.Wait()
		r.h.tr.Leave(r)
	}()
}

func streamToken(req *http.Request) string {
	if t := req.Header.Get(tokenHeader); t != "" {
		return t
	}
	return req.URL.Query().Get(tokenQuery)
}

// lookup returns the reservation for token, or nil.
func (h *Handler) lookup(token string) *reservation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reservations[token]
}

// serveReserve answers PUT: a new reservation and its token.
func (h *Handler) serveReserve(w http.ResponseWriter, req *http.Request) {
	ctx, _, err := h.opts.Auth.AuthenticateRequest(req, "graphql")
	if err != nil {
		writeAuthError(w, mediaJSON, err)
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithCancel(transport.WithIdentity(context.Background(), transport.IdentityFrom(ctx)))
	r := &reservation{h: h, token: hex.EncodeToString(b[:]), ctx: ctx, cancel: cancel,
		events: make(chan []byte, reservationQueue), ops: make(map[string]*wsOp)}
	if err := h.tr.Enter(); err != nil {
		cancel()
		refuse(w, mediaJSON, err)
		return
	}
	h.mu.Lock()
	h.reservations[r.token] = r
	h.mu.Unlock()
	h.tr.Attach(r) // after the map: a reservation told to go away at once leaves it
	r.mu.Lock()
	if !r.closed {
		r.expiry = time.AfterFunc(reservationTimeout, func() {
			r.mu.Lock()
			open := r.open
			r.mu.Unlock()
			if !open {
				r.close()
			}
		})
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(r.token))
}

// serveStopOperation answers DELETE ?operationId=.
func (h *Handler) serveStopOperation(w http.ResponseWriter, req *http.Request, r *reservation) {
	id := req.URL.Query().Get("operationId")
	if id == "" {
		writeErrorBody(w, mediaJSON, http.StatusBadRequest, transport.CodeBadRequest, "Operation ID is missing")
		return
	}
	r.mu.Lock()
	if op := r.ops[id]; op != nil {
		op.cancel()
		delete(r.ops, id)
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// serveReservedOperation answers an operation request: 202, and results
// on the reservation's stream.
func (h *Handler) serveReservedOperation(w http.ResponseWriter, req *http.Request, r *reservation) {
	params, err := h.readRequest(w, req)
	if err != nil {
		writeRequestError(w, mediaJSON, err)
		return
	}
	id, _ := params.Extensions["operationId"].(string)
	if id == "" {
		writeErrorBody(w, mediaJSON, http.StatusBadRequest, transport.CodeBadRequest, "Operation ID is missing")
		return
	}
	if typ, err := operationType(params.Query, params.OperationName); err == nil && typ == opMutation && req.Method == http.MethodGet {
		w.Header().Set("Allow", "POST")
		writeErrorBody(w, mediaJSON, http.StatusMethodNotAllowed, transport.CodeMethodNotAllowed, "mutations need POST")
		return
	}
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		writeErrorBody(w, mediaJSON, http.StatusNotFound, transport.CodeNotFound, "Stream not found")
		return
	case r.ops[id] != nil:
		r.mu.Unlock()
		writeErrorBody(w, mediaJSON, http.StatusConflict, transport.CodeBadRequest, "Operation with ID already exists")
		return
	case h.opts.Limits.MaxSubscriptions > 0 && len(r.ops) >= h.opts.Limits.MaxSubscriptions:
		r.mu.Unlock()
		writeErrorBody(w, mediaJSON, http.StatusTooManyRequests, transport.CodeRateLimited,
			fmt.Sprintf("too many operations on this stream (limit %d)", h.opts.Limits.MaxSubscriptions))
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	op := &wsOp{cancel: cancel}
	r.ops[id] = op
	r.wg.Add(1)
	r.mu.Unlock()
	go r.runOp(ctx, op, id, params)
	w.WriteHeader(http.StatusAccepted)
}

// runOp queues an operation's results for the stream.
func (r *reservation) runOp(ctx context.Context, op *wsOp, id string, params *Request) {
	defer r.wg.Done()
	defer op.cancel()
	defer func() {
		if v := recover(); v != nil {
			r.h.opts.Logger.Warn("graphqlsub: executor panicked", "panic", v)
			r.close()
		}
	}()
	put := func(b []byte) bool {
		select {
		case r.events <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	idJSON := wire.AppendJSONString(nil, id)
	next := func(res *Result) []byte {
		b := append([]byte(`{"id":`), idJSON...)
		b = append(b, `,"payload":`...)
		b = appendResult(b, res)
		return appendEvent(nil, msgNext, append(b, '}'))
	}
	results, obs, err := r.h.start(ctx, params)
	if err != nil {
		r.h.opts.Logger.Warn("graphqlsub: executor failed", "err", err)
		results = closedResult(requestError(transport.CodeInternal, "internal error"))
	}
	defer obs.end()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			return
		case res, ok := <-results:
			if !ok {
				done = true
				break
			}
			b := next(res)
			if !put(b) {
				return
			}
			obs.delivered(res, len(b)) // queued for the stream
		}
	}
	r.mu.Lock()
	mine := r.ops[id] == op
	if mine {
		delete(r.ops, id)
	}
	r.mu.Unlock()
	if !mine {
		return // stopped with DELETE: no further activity
	}
	put(appendEvent(nil, msgComplete, append(append([]byte(`{"id":`), idJSON...), '}')))
}

// serveReservedStream opens a reservation's stream and writes its events
// until the client leaves or the reservation ends; then the reservation
// ends too.
func (h *Handler) serveReservedStream(w http.ResponseWriter, req *http.Request, r *reservation) {
	r.mu.Lock()
	if r.open || r.closed {
		r.mu.Unlock()
		writeErrorBody(w, mediaJSON, http.StatusConflict, transport.CodeBadRequest, "Stream already open")
		return
	}
	r.open = true
	r.mu.Unlock()
	defer r.close()

	es, ok := h.openEventStream(w)
	if !ok {
		return
	}
	tick, stop := h.keepAliveTicker()
	defer stop()
	for {
		select {
		case <-req.Context().Done():
			return
		case <-r.ctx.Done():
			return
		case <-tick:
			if !es.write([]byte(":\n\n")) {
				return
			}
		case b := <-r.events:
			if !es.write(b) {
				return
			}
		}
	}
}
