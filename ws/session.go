package ws

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-go/switchboard/internal/burst"
	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// ctrlQueue is the capacity of a session's control queue (replies to client
// frames). A client that sends faster than it reads is slowed down by TCP
// once it is full: the reader waits.
const ctrlQueue = 8

// session is one WebSocket connection. A reader goroutine started by
// ServeHTTP (which then returns, as the connection is hijacked) runs client
// frames (readLoop); writing happens in bursts (writer.go), started when
// there is something to write, which take control frames from ctrl and
// messages straight from the broker subscriptions' channels. Requests
// waiting for a reply run in their own goroutines, at most
// MaxPendingRequests at a time.
type session struct {
	h      *Handler
	conn   *websocket.Conn
	nc     *leanConn       // the connection under conn
	ctx    context.Context // carries the identity; cancelled by end
	cancel context.CancelFunc
	id     *transport.Identity
	remote string
	// authDone ends the context Authenticate got; called when the
	// connection has ended. nil without an Authenticate hook.
	authDone context.CancelFunc

	ctrl        chan ctrlItem
	writerDone  chan struct{} // closed when the last burst has closed the connection
	reqs        sync.WaitGroup
	pendingReqs atomic.Int32
	pumps       sync.WaitGroup // pump goroutines (subscriptions without Notify)

	// The writer (writer.go).
	w         writer
	wgate     burst.Gate  // one burst at a time, started by work
	pingTimer *time.Timer // nil when pings are off
	pingDue   atomic.Bool
	ponged    atomic.Bool

	mu   sync.Mutex
	subs map[string]*serverSub // by client id; reader adds, reader or writer removes

	endOnce     sync.Once
	closeCode   websocket.StatusCode
	closeReason string

	protocolErrors int // reader only
}

type ctrlKind uint8

const (
	ctrlFrame  ctrlKind = iota // write b
	ctrlAdd                    // write b (subscribed), maybe a gap frame, then deliver sub
	ctrlRemove                 // stop delivering sub, write b (unsubscribed)
)

type ctrlItem struct {
	kind ctrlKind
	b    []byte
	sub  *serverSub
	gap  bool // ctrlAdd: write a gap frame after b
}

// serverSub is one client subscription.
type serverSub struct {
	id           string // the client's id; guideKey(topic) for the guide form
	topic        string // the guide form's topic (a filter); "" for switchboard.v1
	idJSON       string // id as a JSON string, for the message frames
	sub          pubsub.Subscription
	ch           <-chan *pubsub.Message // sub.C()
	unsubscribed atomic.Bool
	filter       string
	reported     atomic.Bool // its end was reported to the Observer

	// A subscription without Notify has a pump goroutine, which receives
	// batches from ch for the writer (who then never receives from ch
	// itself): it sets held and heldClosed, then pumped, kicks the writer
	// and waits on resume, which the writer signals once it has written
	// the batch.
	resume     chan struct{} // nil without a pump
	pumped     atomic.Bool
	held       []*pubsub.Message
	heldClosed bool
	// The writer's copy of the batch it is writing.
	batch       []*pubsub.Message
	batchClosed bool
	needResume  bool
}

// subEnded reports the end of ss to the Observer, once.
func (s *session) subEnded(ss *serverSub, reason transport.EndReason, err error) {
	if s.h.opts.Observer != nil && ss.reported.CompareAndSwap(false, true) {
		s.h.opts.Observer.OnSubEnded("ws", reason, err, ss.filter)
	}
}

func newSession(h *Handler, c *websocket.Conn, nc *leanConn, ctx context.Context, id *transport.Identity, remote string) *session {
	ctx, cancel := context.WithCancel(ctx)
	s := &session{
		h: h, conn: c, nc: nc, ctx: ctx, cancel: cancel, id: id, remote: remote,
		ctrl:       make(chan ctrlItem, ctrlQueue),
		writerDone: make(chan struct{}),
		subs:       make(map[string]*serverSub),
	}
	if iv := h.opts.KeepAlive; iv > 0 {
		// Armed once assigned: the timer's callback reads pingTimer.
		s.pingTimer = time.AfterFunc(time.Duration(math.MaxInt64), s.pingTick)
		s.pingTimer.Reset(iv)
	}
	return s
}

// end records why the connection ends (the first reason wins) and stops the
// session; the writer then closes the connection with that code.
func (s *session) end(code websocket.StatusCode, reason string) {
	s.record(code, reason)
	s.cancel()
	s.kick() // the writer finishes
}

// record records why the connection ends, unless a reason already was.
func (s *session) record(code websocket.StatusCode, reason string) {
	s.endOnce.Do(func() { s.closeCode, s.closeReason = code, reason })
}

// GoAway is the handler's Shutdown signal: the writer writes what it holds
// and closes the connection with 1001. It does not block.
func (s *session) GoAway() { s.end(websocket.StatusGoingAway, shutdownReason) }

// Cut is the handler's Close: the connection is dropped without a close
// handshake, which ends the reader, the writer and the pending requests.
// It returns at once unless a close handshake is already under way (after
// GoAway), which coder/websocket lets finish within its own bound.
func (s *session) Cut() {
	s.record(websocket.StatusAbnormalClosure, cutReason)
	_ = s.conn.CloseNow() // before the writer hears of the end: no close frame
	s.cancel()
	s.kick()
}

func (s *session) run() {
	s.readLoop()
	s.end(websocket.StatusNormalClosure, "")
	<-s.writerDone
	s.reqs.Wait()
	reason := transport.EndClient
	switch s.closeReason {
	case shutdownReason, cutReason:
		reason = transport.EndShutdown
	case writeTimeoutReason:
		reason = transport.EndSlowConsumer
	}
	s.mu.Lock()
	for _, ss := range s.subs {
		if err := ss.sub.Err(); err != nil && s.closeReason != shutdownReason && s.closeReason != cutReason {
			// It ended on its own (it overflowed while the writer was
			// blocked) before the session did.
			s.subEnded(ss, transport.ReasonOf(err), err)
		}
		_ = ss.sub.Close()
		s.subEnded(ss, reason, nil)
	}
	s.mu.Unlock()
	s.pumps.Wait()
}

// send queues a control frame for the writer; false when the session ended.
func (s *session) send(it ctrlItem) bool {
	select {
	case s.ctrl <- it:
		s.kick()
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *session) sendErr(id string, err error) {
	s.send(ctrlItem{b: appendErrorFrame(nil, id, err)})
}

// readLoop reads client messages until the connection ends. On TCP it
// waits for data itself, on a shallow stack (leanConn.waitData, which also
// consumes keep-alive pongs), and reads and runs each message on a
// short-lived goroutine: coder/websocket's Read, decoding and subscribing
// need a deep stack, and a goroutine's stack never shrinks below four
// times what it uses when it blocks (plus a guard), so the reader of an
// idle connection keeps the smallest stack only if it never went deep.
// Other connections (TLS) are read here, and only frames run on a
// short-lived goroutine.
func (s *session) readLoop() {
	if s.nc == nil || s.nc.rc == nil {
		for s.readMessage(true) {
		}
		return
	}
	done := make(chan bool)
	read := func() { done <- s.readMessage(false) }
	for {
		if s.ctx.Err() == nil {
			s.nc.waitData()
		}
		go read()
		if !<-done {
			return
		}
	}
}

// readMessage reads one client message and runs it (on a short-lived
// goroutine when apart); false when the connection ended.
func (s *session) readMessage(apart bool) bool {
	// context.Background: the read ends when the connection closes (the
	// writer closes it when the session ends); cancelling a read context
	// would drop the connection without a close frame.
	typ, b, err := s.conn.Read(context.Background())
	if err != nil {
		if st := websocket.CloseStatus(err); st == -1 && s.ctx.Err() == nil {
			s.h.opts.Logger.Debug("ws: read failed", "remote", s.remote, "err", err)
		}
		return false
	}
	switch {
	case s.ctx.Err() != nil:
		// Closing: keep reading until the close handshake ends.
	case typ != websocket.MessageText:
		s.protocolError(badFrame("", "binary frames are not part of %s", Subprotocol))
	case apart:
		s.runFrame(b)
	default:
		s.runFrameHere(b)
	}
	return true
}

// runFrame runs one client frame on a short-lived goroutine and waits for
// it: decoding and subscribing need a deep stack (see readLoop).
func (s *session) runFrame(b []byte) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.runFrameHere(b)
	}()
	<-done
}

// runFrameHere decodes and executes one client frame.
func (s *session) runFrameHere(b []byte) {
	f, err := decodeClientFrame(b)
	if err != nil {
		s.protocolError(err)
		return
	}
	s.handle(&f)
}

func (s *session) protocolError(err error) {
	var fe *frameError
	id, topic := "", ""
	if errors.As(err, &fe) {
		id, topic = fe.id, fe.topic
	}
	s.send(ctrlItem{b: appendErrorAbout(nil, id, topic, err)})
	s.protocolErrors++
	if m := s.h.opts.MaxProtocolErrors; m > 0 && s.protocolErrors >= m {
		s.end(websocket.StatusPolicyViolation, protocolErrorsReason)
	}
}

func (s *session) handle(f *clientFrame) {
	if f.guide() {
		s.handleGuide(f)
		return
	}
	switch f.Type {
	case typePing:
		s.send(ctrlItem{b: appendIDFrame(nil, typePong, "id", f.ID)})
	case typeSubscribe:
		s.subscribe(f)
	case typeUnsubscribe:
		s.unsubscribe(f.ID)
	case typePublish:
		s.publish(f)
	case typeRequest:
		s.request(f)
	}
}

func (s *session) subscribe(f *clientFrame) {
	err := s.h.opts.Auth.Check(s.ctx, s.id, transport.ActionSubscribe, f.Filter)
	if err == nil && f.Group != "" {
		err = s.h.opts.Auth.Check(s.ctx, s.id, transport.ActionJoin, f.Group)
	}
	if err != nil {
		s.h.opts.Observer.OnSubRefused("ws", err, f.Filter)
		s.sendErr(f.ID, err)
		return
	}
	s.mu.Lock()
	_, dup := s.subs[f.ID]
	n := len(s.subs)
	s.mu.Unlock()
	if dup {
		s.protocolError(badFrame(f.ID, "subscription id %q is in use", clip.String(f.ID)))
		return
	}
	if max := s.h.opts.Limits.MaxSubscriptions; max > 0 && n >= max {
		err := fmt.Errorf("%w: at most %d subscriptions per connection", transport.ErrLimit, max)
		s.h.opts.Observer.OnSubRefused("ws", err, f.Filter)
		s.sendErr(f.ID, err)
		return
	}
	head := ""
	if f.Since == "" && f.Group == "" {
		head = s.head()
	}
	sub, gap, err := s.open(f.Filter, f.Since, f.Group)
	if err != nil {
		s.sendErr(f.ID, err)
		return
	}
	ss := &serverSub{id: f.ID, idJSON: string(wire.AppendJSONString(nil, f.ID)), sub: sub, ch: sub.C(), filter: f.Filter}
	s.watch(ss)
	s.h.opts.Observer.OnSubStarted("ws", f.Filter)
	s.mu.Lock()
	s.subs[f.ID] = ss
	s.mu.Unlock()
	b := appendSubscribedFrame(nil, f.ID, head)
	if !s.send(ctrlItem{kind: ctrlAdd, b: b, sub: ss, gap: gap}) {
		_ = sub.Close() // the session ended: run reports it with the others
	}
}

func (s *session) unsubscribe(id string) {
	s.mu.Lock()
	ss := s.subs[id]
	delete(s.subs, id)
	s.mu.Unlock()
	if ss == nil {
		s.sendErr(id, fmt.Errorf("%w: no subscription %q", transport.ErrNotFound, clip.String(id)))
		return
	}
	ss.unsubscribed.Store(true)
	_ = ss.sub.Close()
	s.subEnded(ss, transport.EndClient, nil)
	s.send(ctrlItem{kind: ctrlRemove, b: appendIDFrame(nil, typeUnsubscribed, "id", id), sub: ss})
}

// watch makes the writer hear of ss's messages: through Notify when the
// subscription has it (DECISIONS.md D1), else through a pump goroutine.
func (s *session) watch(ss *serverSub) {
	if n, ok := ss.sub.(pubsub.Notifier); ok {
		n.Notify(s.kick)
		return
	}
	ss.resume = make(chan struct{}, 1)
	s.pumps.Add(1)
	go s.pump(ss)
}

// pump receives ss's messages for the writer, a batch at a time, until ss's
// channel is closed or the session ends.
func (s *session) pump(ss *serverSub) {
	defer s.pumps.Done()
	var batch []*pubsub.Message
	for {
		m, ok := <-ss.ch
		batch = batch[:0]
		for ok {
			batch = append(batch, m)
			if len(batch) == subBatch {
				break
			}
			select {
			case m, ok = <-ss.ch:
				continue
			default:
			}
			break
		}
		ss.held, ss.heldClosed = batch, !ok
		ss.pumped.Store(true)
		s.kick()
		if !ok {
			return
		}
		select {
		case <-ss.resume:
		case <-s.ctx.Done():
			return
		}
	}
}

// open subscribes to filter for a client, resuming after since when it
// can; gap reports that it could not (no history, a cursor this broker
// cannot read, or history that no longer reaches back).
func (s *session) open(filter, since, group string) (sub pubsub.Subscription, gap bool, err error) {
	opts := &pubsub.SubscribeOptions{Since: since, Group: group, Buffer: s.h.opts.Buffer}
	if since != "" && !s.h.broker.Capabilities().History {
		// Nothing to resume from: deliver live and say so.
		opts.Since, gap = "", true
	}
	sub, err = s.h.broker.Subscribe(s.ctx, filter, opts)
	if errors.Is(err, pubsub.ErrInvalidCursor) {
		// A cursor this broker cannot read (another broker's, or garbage)
		// is a gap, not an error: the client reloads its state.
		opts.Since, gap = "", true
		sub, err = s.h.broker.Subscribe(s.ctx, filter, opts)
	}
	if err != nil {
		return nil, false, err
	}
	return sub, gap || sub.Gap(), nil
}

// message authorizes action on f's topic and returns the message f
// carries; false when an error frame answered f instead.
func (s *session) message(f *clientFrame, action transport.Action) (pubsub.Message, bool) {
	err := s.h.opts.Auth.Check(s.ctx, s.id, action, f.Topic)
	if max := s.h.opts.Limits.MaxMessageBytes; err == nil && max > 0 && int64(len(f.payload)) > max {
		err = fmt.Errorf("%w: payload of %d bytes exceeds %d", transport.ErrTooLarge, len(f.payload), max)
	}
	if err != nil {
		s.sendErr(f.ID, err)
		return pubsub.Message{}, false
	}
	return pubsub.Message{Topic: f.Topic, Data: f.payload, Header: f.Header, Retain: f.Retain, ID: f.Key}, true
}

func (s *session) publish(f *clientFrame) {
	m, ok := s.message(f, transport.ActionPublish)
	if !ok {
		return
	}
	r, err := transport.PublishObserved(s.ctx, s.h.opts.Observer, "ws", s.h.broker, m)
	if err != nil {
		s.sendErr(f.ID, err)
		return
	}
	s.send(ctrlItem{b: appendAckFrame(nil, f.ID, r)})
}

func (s *session) request(f *clientFrame) {
	m, ok := s.message(f, transport.ActionRequest)
	if !ok {
		return
	}
	m.Retain = false
	if max := s.h.opts.MaxPendingRequests; max > 0 && int(s.pendingReqs.Load()) >= max {
		s.sendErr(f.ID, fmt.Errorf("%w: at most %d pending requests per connection", transport.ErrLimit, max))
		return
	}
	timeout := s.requestTimeout(f.TimeoutMS)
	id := f.ID
	s.pendingReqs.Add(1)
	s.reqs.Add(1)
	go func() {
		defer s.reqs.Done()
		defer s.pendingReqs.Add(-1)
		ctx := s.ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		reply, err := pubsub.Request(ctx, s.h.requester, m)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && s.ctx.Err() == nil {
				err = fmt.Errorf("%w: no reply within %v", context.DeadlineExceeded, timeout)
			}
			s.sendErr(id, err)
			return
		}
		s.send(ctrlItem{b: appendReplyFrame(nil, id, reply)})
	}()
}

// requestTimeout is the wait for a request frame's reply: its timeout_ms
// or RequestTimeout, capped by MaxRequestTimeout; 0 means no timeout.
func (s *session) requestTimeout(timeoutMS int64) time.Duration {
	timeout := s.h.opts.RequestTimeout
	if timeoutMS > 0 {
		timeout = time.Duration(timeoutMS) * time.Millisecond
	}
	if max := s.h.opts.MaxRequestTimeout; max > 0 && (timeout == 0 || timeout > max) {
		timeout = max
	}
	return timeout
}

// head returns the broker's newest cursor, read before a live subscription
// starts, so the "subscribed" frame gives the client a position to resume
// from even if no message reaches it before its connection drops. Resuming
// from it may replay the few messages published between this read and the
// subscription; it never skips one. "" when the broker keeps no history.
func (s *session) head() string {
	hr, ok := s.h.broker.(pubsub.HistoryReader)
	if !ok || !s.h.broker.Capabilities().History {
		return ""
	}
	// A negative Limit reads only the head, without a scan.
	p, err := hr.History(s.ctx, "#", pubsub.HistoryOptions{Limit: -1})
	if err != nil {
		return ""
	}
	return p.Head
}
