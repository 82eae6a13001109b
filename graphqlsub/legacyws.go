package graphqlsub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/transport"
)

// legacyConn is one connection of the legacy graphql-ws subprotocol
// (subscriptions-transport-ws). Its structure mirrors transportConn; the
// differences are the protocol's: "start"/"stop", results in "data",
// "ka" keep-alive messages, "connection_error" for malformed messages
// (which do not end the connection), and close code 1011 after a refused
// connection_init.
type legacyConn struct {
	h        *Handler
	c        *websocket.Conn
	r        *http.Request
	ctx      context.Context
	cancel   context.CancelFunc
	initSeen chan struct{}
	acked    chan struct{}

	mu       sync.Mutex
	initDone bool
	opCtx    context.Context
	ops      map[string]*wsOp
	wg       sync.WaitGroup
}

func newLegacyConn(h *Handler, c *websocket.Conn, r *http.Request) *legacyConn {
	ctx, cancel := context.WithCancel(context.Background())
	return &legacyConn{h: h, c: c, r: r, ctx: ctx, cancel: cancel,
		initSeen: make(chan struct{}), acked: make(chan struct{}), ops: make(map[string]*wsOp)}
}

func (l *legacyConn) goAway() { _ = l.c.Close(websocket.StatusGoingAway, "Going away") }
func (l *legacyConn) kill()   { _ = l.c.CloseNow() }

func (l *legacyConn) run() {
	l.wg.Add(1)
	go l.control()
	for {
		_, b, err := l.c.Read(l.ctx)
		if err != nil || !l.handle(b) {
			break
		}
	}
	l.cancel()
	l.wg.Wait()
}

// control enforces the init timeout, then sends "ka" right after the ack
// and every KeepAlive.
func (l *legacyConn) control() {
	defer l.wg.Done()
	o := l.h.opts
	var timeout <-chan time.Time
	if o.InitTimeout > 0 {
		t := time.NewTimer(o.InitTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		_ = l.c.Close(closeConnectionInitTimeout, "Connection initialisation timeout")
		return
	case <-l.initSeen:
	case <-l.ctx.Done():
		return
	}
	select {
	case <-l.acked:
	case <-l.ctx.Done():
		return
	}
	if o.KeepAlive <= 0 {
		return
	}
	ka := appendMessage(nil, msgKeepAlive, "", nil)
	if l.write(ka) != nil {
		return
	}
	tick := time.NewTicker(o.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-tick.C:
			if l.write(ka) != nil {
				return
			}
		}
	}
}

func (l *legacyConn) write(b []byte) error {
	ctx := l.ctx
	if d := l.h.opts.WriteTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return l.c.Write(ctx, websocket.MessageText, b)
}

// legacyError returns the payload {"message":…}.
func legacyError(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"message": msg})
	return b
}

// handle processes one client message; false ends the connection.
func (l *legacyConn) handle(b []byte) bool {
	m, err := parseMessage(b)
	if err != nil {
		return l.write(appendMessage(nil, msgConnectionError, "", legacyError(err.Error()))) == nil
	}
	switch m.Type {
	case msgConnectionInit:
		return l.onInit(m)
	case msgConnectionTerminate:
		_ = l.c.Close(websocket.StatusNormalClosure, "")
		return false
	case msgStart:
		return l.onStart(m)
	case msgStop:
		l.mu.Lock()
		if op := l.ops[m.ID]; op != nil {
			delete(l.ops, m.ID)
			op.cancel()
		}
		l.mu.Unlock()
		return true
	}
	return l.write(appendMessage(nil, msgError, m.ID, legacyError("Invalid message type!"))) == nil
}

func (l *legacyConn) onInit(m message) bool {
	l.mu.Lock()
	seen := l.initDone
	l.initDone = true
	l.mu.Unlock()
	if seen {
		return l.write(appendMessage(nil, msgConnectionError, "", legacyError("connection_init sent twice"))) == nil
	}
	close(l.initSeen)
	// The reference server answers a refusal with this message.
	msg := "Prohibited connection!"
	payload, err := payloadObject(m.Payload)
	if err != nil {
		msg = err.Error()
	} else {
		id, err := l.h.authenticate(l.ctx, l.r, payload)
		if err == nil {
			l.mu.Lock()
			l.opCtx = transport.WithIdentity(l.ctx, id)
			l.mu.Unlock()
			// The ack goes out before control may send the first "ka".
			err := l.write(appendMessage(nil, msgConnectionAck, "", nil))
			close(l.acked)
			return err == nil
		}
		l.h.opts.Logger.Debug("graphqlsub: connection refused", "err", err, "remote", l.r.RemoteAddr)
	}
	_ = l.write(appendMessage(nil, msgConnectionError, "", legacyError(msg)))
	_ = l.c.Close(websocket.StatusInternalError, "Prohibited connection")
	return false
}

func (l *legacyConn) onStart(m message) bool {
	if !m.HasID || m.ID == "" {
		return l.write(appendMessage(nil, msgConnectionError, "", legacyError("start needs an id"))) == nil
	}
	l.mu.Lock()
	opCtx, old, n := l.opCtx, l.ops[m.ID], len(l.ops)
	if old != nil { // the legacy server replaces an operation with the same id
		delete(l.ops, m.ID)
		old.cancel()
		n--
	}
	l.mu.Unlock()
	if opCtx == nil {
		return l.write(appendMessage(nil, msgError, m.ID, legacyError("connection_init must come first"))) == nil
	}
	req, err := parseRequest(m.Payload)
	if err != nil {
		return l.write(appendMessage(nil, msgError, m.ID, legacyError(err.Error()))) == nil
	}
	if max := l.h.opts.Limits.MaxSubscriptions; max > 0 && n >= max {
		msg := fmt.Sprintf("too many operations on this connection (limit %d)", max)
		return l.write(appendMessage(nil, msgError, m.ID, legacyError(msg))) == nil
	}
	ctx, cancel := context.WithCancel(opCtx)
	op := &wsOp{cancel: cancel}
	l.mu.Lock()
	l.ops[m.ID] = op
	l.mu.Unlock()
	l.wg.Add(1)
	go l.runOp(ctx, m.ID, req, op)
	return true
}

// runOp sends every result, request errors included, as "data" and ends
// with "complete", as subscriptions-transport-ws's server does.
func (l *legacyConn) runOp(ctx context.Context, id string, req *Request, op *wsOp) {
	defer l.wg.Done()
	defer func() {
		l.mu.Lock()
		if l.ops[id] == op {
			delete(l.ops, id)
		}
		l.mu.Unlock()
		op.cancel()
	}()
	defer func() {
		if v := recover(); v != nil {
			l.h.opts.Logger.Warn("graphqlsub: executor panicked", "panic", v)
			_ = l.c.Close(websocket.StatusInternalError, "Internal server error")
		}
	}()
	results, err := l.h.start(ctx, req)
	if err != nil {
		l.h.opts.Logger.Warn("graphqlsub: executor failed", "err", err)
		_ = l.write(appendMessage(nil, msgError, id, legacyError("internal error")))
		return
	}
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
		if l.write(appendResultMessage(nil, msgData, id, res)) != nil {
			return
		}
	}
	if ctx.Err() == nil {
		_ = l.write(appendMessage(nil, msgComplete, id, nil))
	}
}
