package graphqlsub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/transport"
)

// wsSession is one WebSocket connection of either GraphQL subprotocol: the
// part both share. The ServeHTTP goroutine reads (run); a control goroutine
// enforces the init timeout and sends the keep-alives; one goroutine per
// operation writes its results; a go-away runs its close handshake on a
// goroutine of its own. All of them finish before run returns. What
// differs between the subprotocols is behind p.
type wsSession struct {
	h        *Handler
	c        *websocket.Conn
	r        *http.Request
	p        wsProtocol
	ctx      context.Context // the connection's lifetime
	cancel   context.CancelFunc
	initSeen chan struct{} // closed when connection_init arrives
	acked    chan struct{} // closed once connection_ack was written
	closing  atomic.Bool   // a close handshake has started

	mu       sync.Mutex
	ended    bool            // run is waiting for its goroutines: no new ones
	initDone bool            // connection_init was received
	opCtx    context.Context // ctx carrying the identity, set on ack
	ops      map[string]*wsOp
	wg       sync.WaitGroup
}

// wsOp is a running operation.
type wsOp struct{ cancel context.CancelFunc }

// wsAction is what the core does with a message the protocol classified.
type wsAction int

const (
	actOther wsAction = iota // the protocol's own message (wsProtocol.other)
	actInit                  // connection_init
	actStart                 // start an operation (subscribe, start)
	actStop                  // stop an operation (complete, stop)
)

// wsFault is a client's mistake or a server failure that each protocol
// answers in its own way (a close code, or an error message).
type wsFault int

const (
	faultMalformed  wsFault = iota // a message failed parsing or the protocol's check; msg says why
	faultSecondInit                // a second connection_init
	faultRefused                   // connection_init refused: msg says why for a bad payload, "" when Auth refused
	faultNotAcked                  // an operation before connection_ack
	faultDuplicate                 // an operation with an id in use (protocols that do not replace)
	faultBadRequest                // an operation with a malformed payload; msg says why
	faultTooMany                   // past Limits.MaxSubscriptions; msg says so
	faultExecutor                  // the Executor failed to start the operation
	faultPanic                     // the Executor panicked
)

// wsProtocol is the part of a subprotocol the session core does not share:
// message type names, the protocol's replies and close codes.
type wsProtocol interface {
	// classify checks a parsed message beyond parseMessage and says what
	// the core does with it; an error is answered with faultMalformed.
	classify(m message) (wsAction, error)
	// other handles a message classified actOther; false ends the
	// connection.
	other(s *wsSession, m message) bool
	// fault answers f for operation id (if any); false ends the
	// connection.
	fault(s *wsSession, f wsFault, id, msg string) bool
	// replaces reports whether starting an operation whose id is running
	// replaces it (else it is faultDuplicate).
	replaces() bool
	// result appends one result of operation id to dst; last means it ends
	// the operation instead of complete.
	result(dst []byte, id string, res *Result, first bool) (b []byte, last bool)
	// keepAlive sends keep-alives every d until the connection ends; it
	// starts once connection_init arrived (or at once without an init
	// timeout).
	keepAlive(s *wsSession, d time.Duration)
}

func newWSSession(h *Handler, c *websocket.Conn, r *http.Request, p wsProtocol) *wsSession {
	ctx, cancel := context.WithCancel(context.Background())
	return &wsSession{h: h, c: c, r: r, p: p, ctx: ctx, cancel: cancel,
		initSeen: make(chan struct{}), acked: make(chan struct{}), ops: make(map[string]*wsOp)}
}

// GoAway closes the socket with 1001 (going away). The close handshake runs
// on a goroutine of the session, so GoAway does not block.
func (s *wsSession) GoAway() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.closeWith(websocket.StatusGoingAway, "Going away")
	}()
}

// Cut drops the connection without a close handshake. A handshake already
// under way is cut short by cancelling the session's context, which the
// reader and every writer use.
func (s *wsSession) Cut() {
	s.cancel()
	if !s.closing.Load() {
		_ = s.c.CloseNow()
	}
}

// closeWith closes the socket with a code and reason (a close handshake of
// at most a few seconds); the reader then stops.
func (s *wsSession) closeWith(code websocket.StatusCode, reason string) {
	s.h.opts.Logger.Debug("graphqlsub: closing connection", "subprotocol", s.c.Subprotocol(),
		"code", int(code), "reason", reason, "remote", s.r.RemoteAddr)
	s.closing.Store(true)
	_ = s.c.Close(code, closeReason(reason))
}

// run reads and handles messages until the connection ends, then waits
// for the session's goroutines.
func (s *wsSession) run() {
	s.wg.Add(1)
	go s.control()
	for {
		_, b, err := s.c.Read(s.ctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				s.h.opts.Logger.Debug("graphqlsub: message too big", "remote", s.r.RemoteAddr)
			}
			break
		}
		if !s.handle(b) {
			break
		}
	}
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	_ = s.c.CloseNow()
}

// control closes the socket with 4408 when connection_init does not arrive
// within InitTimeout, then runs the protocol's keep-alive.
func (s *wsSession) control() {
	defer s.wg.Done()
	o := s.h.opts
	if o.InitTimeout > 0 {
		t := time.NewTimer(o.InitTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			s.closeWith(closeConnectionInitTimeout, "Connection initialisation timeout")
			return
		case <-s.initSeen:
		case <-s.ctx.Done():
			return
		}
	}
	if o.KeepAlive > 0 {
		s.p.keepAlive(s, o.KeepAlive)
	}
}

// every calls f every d until the connection ends or f returns false.
func (s *wsSession) every(d time.Duration, f func() bool) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			if !f() {
				return
			}
		}
	}
}

// write sends one message, bounded by WriteTimeout. It uses the
// connection's context, never an operation's: cancelling a write's context
// closes the whole connection.
func (s *wsSession) write(b []byte) error {
	ctx := s.ctx
	if d := s.h.opts.WriteTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return s.c.Write(ctx, websocket.MessageText, b)
}

// opWriter writes the results of one operation, reusing its buffer. A
// timer armed around each write stands for a context with a deadline per
// write, which cost an allocation and a timer per event, and with
// coder/websocket one context.AfterFunc more: a write that outlives
// WriteTimeout closes the connection, as coder/websocket does when a
// write's context expires.
type opWriter struct {
	s     *wsSession
	timer *time.Timer // nil without WriteTimeout
	buf   []byte
}

func (s *wsSession) newOpWriter() *opWriter {
	w := &opWriter{s: s}
	if d := s.h.opts.WriteTimeout; d > 0 {
		w.timer = time.AfterFunc(d, func() {
			s.h.opts.Logger.Debug("graphqlsub: write timed out", "remote", s.r.RemoteAddr)
			_ = s.c.CloseNow()
		})
		w.timer.Stop()
	}
	return w
}

// write sends b. Its context has no Done channel (coder/websocket then
// sets nothing up per write), except once a close handshake has begun:
// then Cut cuts the write short by cancelling the session's context, which
// a closing connection's CloseNow would not.
func (w *opWriter) write(b []byte) error {
	if w.timer != nil {
		w.timer.Reset(w.s.h.opts.WriteTimeout)
		defer w.timer.Stop()
	}
	ctx := context.Background()
	if w.s.closing.Load() || w.s.ctx.Err() != nil {
		ctx = w.s.ctx
	}
	return w.s.c.Write(ctx, websocket.MessageText, b)
}

func (w *opWriter) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// send writes the message {"type","id","payload"}; false when the write
// failed.
func (s *wsSession) send(typ, id string, payload []byte) bool {
	return s.write(appendMessage(nil, typ, id, payload)) == nil
}

// handle processes one client message; false ends the connection.
func (s *wsSession) handle(b []byte) bool {
	m, err := parseMessage(b)
	var act wsAction
	if err == nil {
		act, err = s.p.classify(m)
	}
	if err != nil {
		return s.p.fault(s, faultMalformed, m.ID, err.Error())
	}
	switch act {
	case actInit:
		return s.onInit(m)
	case actStart:
		return s.onStart(m)
	case actStop:
		s.mu.Lock()
		if op := s.ops[m.ID]; op != nil {
			delete(s.ops, m.ID)
			op.cancel()
		}
		s.mu.Unlock()
		return true
	}
	return s.p.other(s, m)
}

// onInit authenticates connection_init and answers connection_ack.
func (s *wsSession) onInit(m message) bool {
	s.mu.Lock()
	seen := s.initDone
	s.initDone = true
	s.mu.Unlock()
	if seen {
		return s.p.fault(s, faultSecondInit, "", "")
	}
	close(s.initSeen)
	payload, err := payloadObject(m.Payload)
	if err != nil {
		return s.p.fault(s, faultRefused, "", err.Error())
	}
	id, err := s.h.authenticate(s.ctx, s.r, payload)
	if err != nil {
		s.h.opts.Logger.Debug("graphqlsub: connection refused", "err", err, "remote", s.r.RemoteAddr)
		return s.p.fault(s, faultRefused, "", "")
	}
	s.mu.Lock()
	s.opCtx = transport.WithIdentity(s.ctx, id)
	s.mu.Unlock()
	// The ack goes out before a keep-alive may follow it.
	ok := s.send(msgConnectionAck, "", nil)
	close(s.acked)
	return ok
}

// onStart starts an operation on its own goroutine.
func (s *wsSession) onStart(m message) bool {
	s.mu.Lock()
	opCtx, old := s.opCtx, s.ops[m.ID]
	if old != nil && opCtx != nil && s.p.replaces() {
		delete(s.ops, m.ID)
		old.cancel()
		old = nil
	}
	n := len(s.ops)
	s.mu.Unlock()
	switch {
	case opCtx == nil:
		return s.p.fault(s, faultNotAcked, m.ID, "")
	case old != nil:
		return s.p.fault(s, faultDuplicate, m.ID, "")
	}
	req, err := parseRequest(m.Payload)
	if err != nil {
		return s.p.fault(s, faultBadRequest, m.ID, err.Error())
	}
	if max := s.h.opts.Limits.MaxSubscriptions; max > 0 && n >= max {
		return s.p.fault(s, faultTooMany, m.ID, fmt.Sprintf("too many operations on this connection (limit %d)", max))
	}
	ctx, cancel := context.WithCancel(opCtx)
	op := &wsOp{cancel: cancel}
	s.mu.Lock()
	s.ops[m.ID] = op
	s.mu.Unlock()
	s.wg.Add(1)
	go s.runOp(ctx, m.ID, req, op)
	return true
}

// release frees op's id before its final message goes out, so a client may
// reuse it as soon as it sees complete or error; false means the client
// already stopped the operation and nothing more is sent for it.
func (s *wsSession) release(id string, op *wsOp) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ops[id] != op {
		return false
	}
	delete(s.ops, id)
	return true
}

// runOp streams one operation's results and ends with complete, unless the
// protocol ended it with a final message (an error). Nothing is sent once
// the client stopped the operation.
func (s *wsSession) runOp(ctx context.Context, id string, req *Request, op *wsOp) {
	defer s.wg.Done()
	defer func() {
		s.release(id, op)
		op.cancel()
	}()
	defer func() {
		if v := recover(); v != nil {
			s.h.opts.Logger.Warn("graphqlsub: executor panicked", "panic", v)
			s.p.fault(s, faultPanic, id, "")
		}
	}()
	results, obs, err := s.h.start(ctx, req)
	if err != nil {
		s.h.opts.Logger.Warn("graphqlsub: executor failed", "err", err)
		if s.release(id, op) {
			s.p.fault(s, faultExecutor, id, "")
		}
		return
	}
	defer obs.end()
	w := s.newOpWriter()
	defer w.stop()
	for first := true; ; first = false {
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
		var last bool
		w.buf, last = s.p.result(w.buf[:0], id, res, first)
		if last {
			if s.release(id, op) && w.write(w.buf) == nil {
				obs.delivered(res, len(w.buf))
			}
			return
		}
		if w.write(w.buf) != nil {
			return
		}
		obs.delivered(res, len(w.buf))
	}
	if ctx.Err() == nil && s.release(id, op) {
		_ = s.send(msgComplete, id, nil)
	}
}
