package ws

import (
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/internal/coalesce"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// The writer of a session. An idle connection owns no writing goroutine:
// whatever gives the writer work (a control item, a message on a
// subscription, a keep-alive tick, the end of the session) calls kick,
// which starts a burst unless one is running. A burst writes everything
// that is ready, many frames per system call, and ends when nothing is
// left (DECISIONS.md D2). Messages stay in the broker subscriptions'
// buffers until a burst takes them, so those buffers are the outgoing
// queue and a delivered message costs no copy into another queue.

// Bounds of one burst.
const (
	// subBatch caps the messages taken from one subscription per turn, so
	// control frames and other subscriptions are not starved.
	subBatch = 256
	// flushAt is the buffered size at which a turn writes out.
	flushAt = 32 << 10
)

// outBufs holds the writers' output buffers between bursts: an idle
// connection keeps none.
var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, flushAt+4096); return &b }}

// writer is the state of a session's writer, used by one burst at a time
// (handed over through session.wgate).
type writer struct {
	subs      []*serverSub
	out       *[]byte // from outBufs during a turn
	delivered []delivery
	broken    bool      // a write failed: the connection is unusable
	lastWrite time.Time // when the last write to the connection was made

	// Keep-alive: a ping is out and its deadline has not come yet.
	awaitingPong bool
}

type delivery struct {
	m *pubsub.Message
	n int
}

// putOut returns an output buffer to the pool, unless a large frame grew
// it far beyond the usual size.
func putOut(b *[]byte) {
	if cap(*b) > 2*flushAt {
		return
	}
	*b = (*b)[:0]
	outBufs.Put(b)
}

// kick gives the writer work: it starts a burst unless one is running,
// which then sees the work before it ends.
func (s *session) kick() {
	if s.wgate.Kick() {
		go s.burst()
	}
}

// burst writes until nothing is left. Only one runs at a time
// (burst.Gate); after the last one (which closed the connection) none
// starts again, as it returns without Idle.
func (s *session) burst() {
	w := &s.w
	for {
		if due, wait := coalesce.Due(w.lastWrite, s.h.opts.Coalesce); wait && s.ctx.Err() == nil {
			// A busy connection: what arrives until due shares one write.
			s.h.held.Add(s, due) // no Idle: the queue restarts burst
			return
		}
		s.wgate.Begin()
		if !s.turn() {
			s.finish()
			close(s.writerDone)
			return
		}
		// Work that arrived after the turn looked may have found the
		// burst still running and started none: look again.
		if !s.wgate.Idle() {
			return
		}
	}
}

// turn writes what is ready: control items, then the subscriptions'
// messages, then a keep-alive ping if one is due. It returns false when the
// writer must finish.
func (s *session) turn() bool {
	w := &s.w
	if s.ctx.Err() != nil || w.broken {
		return false
	}
	ok := s.turnControl() && s.turnSubs() && s.turnPing()
	ok = s.flush() && ok
	return ok && s.ctx.Err() == nil
}

func (s *session) turnControl() bool {
	for {
		select {
		case it := <-s.ctrl:
			if !s.control(it) {
				return false
			}
		default:
			return true
		}
	}
}

func (s *session) turnSubs() bool {
	w := &s.w
	for i := 0; i < len(w.subs); i++ {
		ss := w.subs[i]
		n := 0
		for ; n < subBatch; n++ {
			m, ok, got := ss.next()
			if !got {
				break
			}
			if !ok {
				if !s.subscriptionEnded(ss) {
					return false
				}
				i-- // removed from w.subs
				break
			}
			s.appendMessage(ss, m)
			if len(*w.out) >= flushAt && !s.flush() {
				return false
			}
		}
		if n == subBatch {
			s.wgate.Kick() // more to come: another turn (false: this run is on)
		}
		ss.taken()
	}
	return true
}

// next returns the subscription's next message without waiting: got is
// false when none is ready, ok false when its channel is closed.
func (ss *serverSub) next() (m *pubsub.Message, ok, got bool) {
	if ss.resume == nil {
		select {
		case m, ok = <-ss.ch:
			return m, ok, true
		default:
			return nil, false, false
		}
	}
	// From the pump.
	if len(ss.batch) == 0 && !ss.batchClosed && ss.pumped.Load() {
		ss.pumped.Store(false)
		ss.batch, ss.batchClosed = ss.held, ss.heldClosed
		ss.needResume = true
	}
	if len(ss.batch) > 0 {
		m = ss.batch[0]
		ss.batch[0] = nil
		ss.batch = ss.batch[1:]
		return m, true, true
	}
	if ss.batchClosed {
		return nil, false, true
	}
	return nil, false, false
}

// taken lets the subscription's pump, if any, receive the next batch once
// the writer has written the one it holds.
func (ss *serverSub) taken() {
	if ss.needResume && len(ss.batch) == 0 {
		ss.needResume = false
		ss.resume <- struct{}{} // never blocks: one batch is out at a time
	}
}

// release lets the pump of a subscription the writer dropped go on (to
// see its channel closed) without the rest of its batch.
func (ss *serverSub) release() {
	if ss.resume == nil {
		return
	}
	if !ss.needResume && ss.pumped.Load() {
		ss.pumped.Store(false)
		ss.needResume = true
	}
	ss.batch = nil
	ss.taken()
}

// appendMessage appends m's message frame for ss to the output.
func (s *session) appendMessage(ss *serverSub, m *pubsub.Message) {
	w := &s.w
	if ss.unsubscribed.Load() {
		return
	}
	b, start := s.beginFrame()
	if ss.topic != "" {
		b = append(b, `{"type":"message"`...)
		b = s.h.guide.Append(b, m, appendGuideFields)
		b = append(b, '}')
	} else {
		b = append(b, `{"type":"message","sub":`...)
		b = append(b, ss.idJSON...)
		b = s.h.cache.Append(b, m, appendEnvelopeFields)
		b = append(b, '}')
	}
	n := s.endFrame(b, start)
	if s.h.opts.Observer != nil {
		w.delivered = append(w.delivered, delivery{m, n})
	}
}

// appendFrame appends a text frame carrying p to the output.
func (s *session) appendFrame(p []byte) {
	b, start := s.beginFrame()
	b = append(b, p...)
	s.endFrame(b, start)
}

// beginFrame returns the output with room for the longest frame header;
// the payload goes after start.
func (s *session) beginFrame() (b []byte, start int) {
	w := &s.w
	if w.out == nil {
		w.out = outBufs.Get().(*[]byte)
	}
	b = *w.out
	start = len(b) + maxFrameHeader
	return b[:start], start
}

// endFrame writes the header of the frame whose payload b[start:] is,
// moving the payload next to it, and returns the payload's length.
func (s *session) endFrame(b []byte, start int) int {
	n := len(b) - start
	h := frameHeader(n)
	at := start - maxFrameHeader
	copy(b[at:], h.bytes())
	if h.n < maxFrameHeader {
		copy(b[at+h.n:], b[start:])
	}
	*s.w.out = b[:at+h.n+n]
	return n
}

// maxFrameHeader is the longest header of an unmasked frame.
const maxFrameHeader = 10

// header is an encoded frame header.
type header struct {
	b [maxFrameHeader]byte
	n int
}

func (h *header) bytes() []byte { return h.b[:h.n] }

// frameHeader encodes the header of a final, unmasked text frame with a
// payload of n bytes (RFC 6455, section 5.2).
func frameHeader(n int) header {
	var h header
	h.b[0] = 0x81 // FIN, text
	switch {
	case n < 126:
		h.b[1] = byte(n)
		h.n = 2
	case n <= 0xffff:
		h.b[1] = 126
		h.b[2], h.b[3] = byte(n>>8), byte(n)
		h.n = 4
	default:
		h.b[1] = 127
		for i := range 8 {
			h.b[2+i] = byte(uint64(n) >> (56 - 8*i))
		}
		h.n = 10
	}
	return h
}

// flush writes the output, then reports the deliveries to the Observer;
// false when the connection broke. The output buffer goes back to the pool.
func (s *session) flush() bool {
	w := &s.w
	if w.out == nil {
		return !w.broken
	}
	err := s.nc.writeFrames(*w.out, s.h.opts.WriteTimeout)
	w.lastWrite = time.Now()
	putOut(w.out)
	w.out = nil
	if err != nil {
		clear(w.delivered)
		w.delivered = w.delivered[:0]
		s.writeFailed(err)
		return false
	}
	for _, d := range w.delivered {
		s.h.opts.Observer.OnDelivered("ws", d.m, d.n)
	}
	clear(w.delivered)
	w.delivered = w.delivered[:0]
	return true
}

func (s *session) writeFailed(err error) {
	w := &s.w
	w.broken = true
	if errors.Is(err, errWriteTimeout) {
		s.end(websocket.StatusInternalError, writeTimeoutReason)
	} else {
		s.end(websocket.StatusAbnormalClosure, "write failed")
	}
}

// control handles one control item; false when the writer must stop.
func (s *session) control(it ctrlItem) bool {
	w := &s.w
	switch it.kind {
	case ctrlAdd:
		if it.b != nil {
			s.appendFrame(it.b)
		}
		if it.gap && it.sub.topic != "" {
			b, start := s.beginFrame()
			b = appendTopicsFrame(b, typeGap, []string{it.sub.topic}, "")
			s.endFrame(b, start)
		} else if it.gap {
			b, start := s.beginFrame()
			b = appendIDFrame(b, typeGap, "sub", it.sub.id)
			s.endFrame(b, start)
		}
		if !it.sub.unsubscribed.Load() {
			w.subs = append(w.subs, it.sub)
		} else {
			it.sub.release()
		}
		return true
	case ctrlRemove:
		for i, ss := range w.subs {
			if ss == it.sub {
				w.remove(i)
				break
			}
		}
	}
	if it.b != nil {
		s.appendFrame(it.b)
	}
	return true
}

func (w *writer) remove(i int) {
	w.subs[i].release()
	w.subs = append(w.subs[:i], w.subs[i+1:]...)
}

// subscriptionEnded handles the close of subscription ss's channel (every
// message it buffered has been taken by now); false when the session ends.
func (s *session) subscriptionEnded(ss *serverSub) bool {
	w := &s.w
	for i, x := range w.subs {
		if x == ss {
			w.remove(i)
			break
		}
	}
	if ss.unsubscribed.Load() {
		return true // the ctrlRemove item writes "unsubscribed"
	}
	err := ss.sub.Err()
	switch {
	case errors.Is(err, pubsub.ErrSlowConsumer):
		s.subEnded(ss, transport.EndSlowConsumer, err)
		s.end(CloseSlowConsumer, slowConsumerReason)
		return false
	case s.ctx.Err() != nil:
		return false
	}
	s.subEnded(ss, transport.ReasonOf(err), err)
	s.mu.Lock()
	if s.subs[ss.id] == ss {
		delete(s.subs, ss.id)
	}
	s.mu.Unlock()
	if err == nil {
		err = pubsub.ErrClosed
	}
	b, start := s.beginFrame()
	if ss.topic != "" {
		b = appendErrorAbout(b, "", ss.topic, err)
	} else {
		b = appendErrorFrame(b, ss.id, err)
	}
	s.endFrame(b, start)
	return true
}

// Keep-alive. The timer fires after KeepAlive; the turn it kicks sends a
// ping and arms the timer for WriteTimeout (KeepAlive when there is no
// WriteTimeout), and the turn after that disconnects a peer whose pong has
// not arrived, or arms the timer for the rest of the period (pings at most
// every KeepAlive, at least every WriteTimeout).

func (s *session) pingTick() {
	s.pingDue.Store(true)
	s.kick()
}

func (s *session) turnPing() bool {
	w := &s.w
	if !s.pingDue.Load() {
		return true
	}
	s.pingDue.Store(false)
	iv, wait := s.h.opts.KeepAlive, s.h.opts.WriteTimeout
	if wait <= 0 {
		wait = iv
	}
	if w.awaitingPong {
		w.awaitingPong = false
		if !s.ponged.Load() {
			// The peer is gone or stuck: a close handshake would only
			// wait for it in vain.
			w.broken = true
			s.end(websocket.StatusPolicyViolation, "no pong")
			return false
		}
		if rest := iv - wait; rest > 0 {
			s.pingTimer.Reset(rest)
			return true
		}
	}
	s.ponged.Store(false)
	w.awaitingPong = true
	if w.out == nil {
		w.out = outBufs.Get().(*[]byte)
	}
	*w.out = append(*w.out, 0x89, byte(len(pingPayload))) // FIN, ping
	*w.out = append(*w.out, pingPayload...)
	s.pingTimer.Reset(wait)
	return true
}

// pingPayload is the payload of the keep-alive pings; a pong carrying it
// counts as the answer.
const pingPayload = "sb"

// onPong is the connection's OnPongReceived hook.
func (s *session) onPong(p []byte) {
	if string(p) == pingPayload {
		s.ponged.Store(true)
	}
}

// finish writes the control frames already queued (error frames that
// explain the close, replies), then closes the connection with the code
// recorded by session.end.
func (s *session) finish() {
	w := &s.w
	if s.pingTimer != nil {
		s.pingTimer.Stop()
	}
	if !w.broken {
	drain:
		for {
			select {
			case it := <-s.ctrl:
				if it.kind != ctrlAdd && it.b != nil {
					s.appendFrame(it.b)
				}
			default:
				break drain
			}
		}
		s.flush()
	} else if w.out != nil {
		putOut(w.out)
		w.out = nil
	}
	if w.broken {
		_ = s.conn.CloseNow()
		return
	}
	_ = s.conn.Close(s.closeCode, s.closeReason)
}

// errWriteTimeout is writeFrames' error when a write outlived its timeout.
var errWriteTimeout = errors.New("ws: write timeout")

// writeFrames writes b, whole frames, in as few system calls as it can:
// one attempt without waiting, then, for what the socket did not take, a
// blocking write bounded by timeout (none when not positive).
func (c *leanConn) writeFrames(b []byte, timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return errCloseSent
	}
	if c.rc != nil {
		n, err := c.tryWrite(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if len(b) == 0 {
			return nil
		}
	}
	if timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(timeout))
		defer func() { _ = c.Conn.SetWriteDeadline(time.Time{}) }()
	}
	_, err := c.Conn.Write(b)
	if err != nil && errors.Is(err, errDeadline) {
		err = errWriteTimeout
	}
	return err
}
