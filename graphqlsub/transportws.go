package graphqlsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/transport"
)

// transportConn is one graphql-transport-ws connection. The ServeHTTP
// goroutine reads (run); a control goroutine enforces the init timeout and
// sends keep-alive pings; one goroutine per operation writes its results.
// All of them finish before run returns.
type transportConn struct {
	h        *Handler
	c        *websocket.Conn
	r        *http.Request
	ctx      context.Context // the connection's lifetime
	cancel   context.CancelFunc
	initSeen chan struct{} // closed when connection_init arrives

	mu       sync.Mutex
	initDone bool
	opCtx    context.Context // ctx carrying the identity, set on ack
	ops      map[string]*wsOp
	wg       sync.WaitGroup
}

// wsOp is a running operation.
type wsOp struct{ cancel context.CancelFunc }

func newTransportConn(h *Handler, c *websocket.Conn, r *http.Request) *transportConn {
	ctx, cancel := context.WithCancel(context.Background())
	return &transportConn{h: h, c: c, r: r, ctx: ctx, cancel: cancel,
		initSeen: make(chan struct{}), ops: make(map[string]*wsOp)}
}

func (t *transportConn) goAway() { t.closeWith(websocket.StatusGoingAway, "Going away") }
func (t *transportConn) kill()   { _ = t.c.CloseNow() }

// closeWith closes the socket with a code and reason (a close handshake of
// at most a few seconds); the reader then stops.
func (t *transportConn) closeWith(code websocket.StatusCode, reason string) {
	t.h.opts.Logger.Debug("graphqlsub: closing graphql-transport-ws connection", "code", int(code), "reason", reason, "remote", t.r.RemoteAddr)
	_ = t.c.Close(code, closeReason(reason))
}

func (t *transportConn) run() {
	t.wg.Add(1)
	go t.control()
	for {
		_, b, err := t.c.Read(t.ctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				t.h.opts.Logger.Debug("graphqlsub: message too big", "remote", t.r.RemoteAddr)
			}
			break
		}
		if !t.handle(b) {
			break
		}
	}
	t.cancel()
	t.wg.Wait()
}

// control closes the socket with 4408 when connection_init does not arrive
// in time, then pings the peer every KeepAlive.
func (t *transportConn) control() {
	defer t.wg.Done()
	o := t.h.opts
	if o.InitTimeout > 0 {
		timer := time.NewTimer(o.InitTimeout)
		select {
		case <-timer.C:
			t.closeWith(closeConnectionInitTimeout, "Connection initialisation timeout")
			return
		case <-t.initSeen:
			timer.Stop()
		case <-t.ctx.Done():
			timer.Stop()
			return
		}
	}
	if o.KeepAlive <= 0 {
		return
	}
	tick := time.NewTicker(o.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(t.ctx, o.KeepAlive)
			err := t.c.Ping(ctx)
			cancel()
			if err != nil {
				if t.ctx.Err() == nil {
					t.h.opts.Logger.Debug("graphqlsub: ping failed", "err", err, "remote", t.r.RemoteAddr)
				}
				_ = t.c.CloseNow()
				return
			}
		}
	}
}

// write sends one message, bounded by WriteTimeout. It uses the connection's
// context, never an operation's: cancelling a write's context closes the
// whole connection.
func (t *transportConn) write(b []byte) error {
	ctx := t.ctx
	if d := t.h.opts.WriteTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return t.c.Write(ctx, websocket.MessageText, b)
}

// handle processes one client message; false means the socket was closed.
func (t *transportConn) handle(b []byte) bool {
	m, err := parseMessage(b)
	if err == nil {
		err = checkTransportMessage(m)
	}
	if err != nil {
		t.closeWith(closeBadRequest, "Invalid message received: "+err.Error())
		return false
	}
	switch m.Type {
	case msgConnectionInit:
		return t.onInit(m)
	case msgPing:
		var payload []byte
		if isObject(m.Payload) {
			payload = m.Payload
		}
		return t.write(appendMessage(nil, msgPong, "", payload)) == nil
	case msgPong:
		return true
	case msgSubscribe:
		return t.onSubscribe(m)
	case msgComplete:
		t.mu.Lock()
		if op := t.ops[m.ID]; op != nil {
			delete(t.ops, m.ID)
			op.cancel()
		}
		t.mu.Unlock()
		return true
	}
	return true // not reached: checkTransportMessage rejects other types
}

func (t *transportConn) onInit(m message) bool {
	t.mu.Lock()
	seen := t.initDone
	t.initDone = true
	t.mu.Unlock()
	if seen {
		t.closeWith(closeTooManyInitialisationReqs, "Too many initialisation requests")
		return false
	}
	close(t.initSeen)
	payload, _ := payloadObject(m.Payload) // checked by checkTransportMessage
	id, err := t.h.authenticate(t.ctx, t.r, payload)
	if err != nil {
		t.h.opts.Logger.Debug("graphqlsub: connection refused", "err", err, "remote", t.r.RemoteAddr)
		t.closeWith(closeForbidden, "Forbidden")
		return false
	}
	t.mu.Lock()
	t.opCtx = transport.WithIdentity(t.ctx, id)
	t.mu.Unlock()
	return t.write(appendMessage(nil, msgConnectionAck, "", nil)) == nil
}

func (t *transportConn) onSubscribe(m message) bool {
	t.mu.Lock()
	acked, exists, n := t.opCtx != nil, t.ops[m.ID] != nil, len(t.ops)
	t.mu.Unlock()
	if !acked {
		t.closeWith(closeUnauthorized, "Unauthorized")
		return false
	}
	if exists {
		t.closeWith(closeSubscriberAlreadyExists, "Subscriber for "+m.ID+" already exists")
		return false
	}
	req, err := parseRequest(m.Payload)
	if err != nil {
		t.closeWith(closeBadRequest, "Invalid message received: "+err.Error())
		return false
	}
	if max := t.h.opts.Limits.MaxSubscriptions; max > 0 && n >= max {
		msg := fmt.Sprintf("too many operations on this connection (limit %d)", max)
		return t.write(appendMessage(nil, msgError, m.ID, errorsJSON(transport.CodeRateLimited, msg))) == nil
	}
	ctx, cancel := context.WithCancel(t.opCtx)
	op := &wsOp{cancel: cancel}
	t.mu.Lock()
	t.ops[m.ID] = op
	t.mu.Unlock()
	t.wg.Add(1)
	go t.runOp(ctx, m.ID, req, op)
	return true
}

// runOp streams one operation's results as next messages and ends with
// complete, or with a single error message for a request error. Nothing is
// sent once the client completed the operation.
func (t *transportConn) runOp(ctx context.Context, id string, req *Request, op *wsOp) {
	defer t.wg.Done()
	// release frees the id before the final message goes out, so a client
	// may reuse it as soon as it sees complete or error; false means the
	// client already completed the operation and nothing more is sent.
	release := func() bool {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.ops[id] != op {
			return false
		}
		delete(t.ops, id)
		return true
	}
	defer func() {
		release()
		op.cancel()
	}()
	defer func() {
		if v := recover(); v != nil {
			t.h.opts.Logger.Warn("graphqlsub: executor panicked", "panic", v)
			t.closeWith(closeInternalServerError, "Internal server error")
		}
	}()
	results, err := t.h.start(ctx, req)
	if err != nil {
		t.h.opts.Logger.Warn("graphqlsub: executor failed", "err", err)
		if release() {
			_ = t.write(appendMessage(nil, msgError, id, errorsJSON(transport.CodeInternal, "internal error")))
		}
		return
	}
	first := true
	for {
		var res *Result
		var ok bool
		select {
		case <-ctx.Done():
			return
		case res, ok = <-results:
		}
		if !ok {
			break
		}
		if ctx.Err() != nil {
			return
		}
		if first && res.isRequestError() {
			b, _ := json.Marshal(res.Errors)
			if release() {
				_ = t.write(appendMessage(nil, msgError, id, b))
			}
			return
		}
		first = false
		if t.write(appendResultMessage(nil, msgNext, id, res)) != nil {
			return
		}
	}
	if ctx.Err() == nil && release() {
		_ = t.write(appendMessage(nil, msgComplete, id, nil))
	}
}

// errorsJSON returns [{"message":…,"extensions":{"code":…}}].
func errorsJSON(code, msg string) []byte {
	b, _ := json.Marshal(requestError(code, msg).Errors)
	return b
}

// errorsResult returns {"errors":[…]} with one error.
func errorsResult(code, msg string) []byte {
	b, _ := json.Marshal(requestError(code, msg))
	return b
}
