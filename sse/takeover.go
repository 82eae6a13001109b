package sse

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-go/switchboard/internal/burst"
	"github.com/switchboard-go/switchboard/internal/coalesce"
	"github.com/switchboard-go/switchboard/internal/netwatch"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// A stream taken over from net/http (the default for HTTP/1.x, see
// Options.KeepOnServer) keeps only what an idle stream needs: the
// connection, its subscription, a keep-alive timer and a registration
// with netwatch, which says when the client hangs up. It has no
// goroutine while idle: the subscription announces each delivery
// (pubsub.Notifier), the timer each keep-alive, netwatch a hang-up, and
// the session's Shutdown and Close; each of them kicks the stream, which
// starts one goroutine (pump) that writes what is waiting and exits when
// nothing is left. Writes are the same events as on net/http's goroutine,
// framed as HTTP/1.1 chunks (the response started as a chunked one before
// the takeover).

// Events a kick brings besides deliveries.
const (
	evPing    uint32 = 1 << iota // the keep-alive timer fired
	evGone                       // the client hung up
	evExpired                    // the request context's deadline passed
)

// chunkRoom is the space kept at the start of a taken-over stream's
// buffer for the chunk-size line ("%x\r\n": at most 8 hex digits for a
// buffer bounded by maxBuf).
const chunkRoom = 10

// bufPool holds the write buffers of taken-over streams between bursts.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// detached is the state of a taken-over stream.
type detached struct {
	conn    net.Conn
	chunked bool
	filters []string
	unwatch func() bool
	ka      *time.Timer // nil without keep-alive; touched by pump only
	expiry  *time.Timer // the request context's deadline; nil without one

	lastWrite time.Time // when the pump last wrote; pump only
	broken    bool      // a write failed, perhaps after part of a chunk; pump only

	gate   burst.Gate    // one pump at a time, started by kicks
	events atomic.Uint32 // evPing | evGone | evExpired
}

// takeOver hijacks the connection of an HTTP/1.x stream whose response
// head and preamble are flushed, and lets the stream go on without this
// goroutine. It reports false, with nothing changed, when the stream must
// stay on net/http's goroutine.
func (s *stream) takeOver(r *http.Request, filters []string) bool {
	n, ok := s.sub.(pubsub.Notifier)
	if !ok || s.h.o.KeepOnServer || r.ProtoMajor != 1 || s.w.Header().Get("Content-Encoding") != "" {
		return false // a middleware that encodes the body must see every write
	}
	conn, rw, err := s.rc.Hijack()
	if err != nil {
		return false
	}
	if rw.Writer.Buffered() > 0 { // nothing is: the preamble was flushed
		_ = rw.Writer.Flush()
	}
	d := &detached{conn: conn, chunked: r.ProtoAtLeast(1, 1), filters: filters}
	s.w, s.rc, s.d = nil, nil, d
	s.deadline = time.Time{} // hijacking cleared the connection's deadlines
	// This goroutine is the stream's pump until it starts the first one:
	// kicks before that (Detach's, Notify's) only leave pending set.
	d.gate.Claim()
	if !s.sess.Detach(conn, s.kickAway) {
		s.finish(transport.EndClient, nil) // the client left already
		return true
	}
	d.unwatch = netwatch.Watch(conn, func() { s.kick(evGone) })
	if ka := s.h.o.KeepAlive; ka > 0 {
		d.ka = time.AfterFunc(ka, func() { s.kick(evPing) })
	}
	// The request's context is cancelled when ServeHTTP returns (by
	// net/http, and by every middleware's deferred cancel), so only its
	// deadline still means something: it ends the stream as it did.
	if dl, ok := r.Context().Deadline(); ok {
		d.expiry = time.AfterFunc(time.Until(dl), func() { s.kick(evExpired) })
	}
	n.Notify(func() { s.kick(0) })
	go s.pump()
	return true
}

func (s *stream) kickAway() { s.kick(0) }

// kick records ev and makes sure a pump runs to look at it.
func (s *stream) kick(ev uint32) {
	d := s.d
	if ev != 0 {
		d.events.Or(ev)
	}
	if d.gate.Kick() {
		go s.pump()
	}
}

// pump writes until nothing is waiting, then exits (burst.Gate: no kick
// is lost). When the stream ends, or waits for Coalesce, it returns
// without Idle, so kicks start no other pump.
func (s *stream) pump() {
	d := s.d
	for {
		if due, wait := coalesce.Due(d.lastWrite, s.h.o.Coalesce); wait {
			s.h.held.Add(s, due) // the queue restarts pump
			return
		}
		d.gate.Begin()
		if s.step() {
			return
		}
		s.releaseBuf()
		if !d.gate.Idle() {
			return
		}
	}
}

// step writes what is waiting and reports whether the stream ended.
func (s *stream) step() (ended bool) {
	d := s.d
	ev := d.events.Swap(0)
	switch {
	case ev&evGone != 0:
		s.finish(transport.EndClient, nil)
		return true
	case ev&evExpired != 0:
		s.finish(transport.EndClient, context.DeadlineExceeded)
		return true
	case s.sess.IsCut():
		s.finish(transport.EndShutdown, nil)
		return true
	}
	away := false
	select {
	case <-s.sess.GoingAway():
		away = true
	default:
	}
	s.takeBuf()
	c := s.sub.C()
	closed := false
	limit := -1 // until C is empty or closed: a close announced earlier is seen
	if away {
		limit = max(cap(c), 1) // going away: what was delivered, not what keeps coming
	}
receive:
	for n := 0; n != limit; n++ {
		select {
		case m, ok := <-c:
			if !ok {
				closed = true
				break receive
			}
			s.writeMessage(m)
			if len(s.buf) >= maxBuf/2 {
				if err := s.flush(); err != nil {
					s.finishWrite(err)
					return true
				}
			}
		default:
			break receive
		}
	}
	if ev&evPing != 0 {
		s.buf = append(s.buf, ": ping\n\n"...)
		d.ka.Reset(s.h.o.KeepAlive)
	}
	switch {
	case closed:
		// Slow consumer or broker closed: send what was delivered, then
		// end; the client resumes from the last id.
		reason, err := s.end()
		_ = s.flush()
		s.finish(reason, err)
		return true
	case away:
		_ = s.flush()
		s.finish(transport.EndShutdown, nil)
		return true
	}
	if err := s.flush(); err != nil {
		s.finishWrite(err)
		return true
	}
	return false
}

// finishWrite ends the stream after a failed write.
func (s *stream) finishWrite(err error) {
	s.finish(s.writeFailed(err), err)
}

// finish ends a taken-over stream: what ServeHTTP does when a stream it
// kept ends, plus the end of the chunked body and closing the connection.
func (s *stream) finish(reason transport.EndReason, err error) {
	d := s.d
	if d.unwatch != nil {
		d.unwatch()
	}
	if d.ka != nil {
		d.ka.Stop()
	}
	if d.expiry != nil {
		d.expiry.Stop()
	}
	// After a failed write (a timeout may have sent part of a chunk) the
	// last chunk would end that chunk's event early: the client would take
	// the truncated event, and resume after its id.
	if d.chunked && !d.broken && reason != transport.EndClient && reason != transport.EndError && !s.sess.IsCut() {
		_ = d.conn.SetWriteDeadline(time.Now().Add(time.Second))
		// A Cut that came since the look above had its deadline replaced:
		// looking again after setting ours, either this sees the cut or
		// Cut's deadline comes after ours.
		if !s.sess.IsCut() {
			_, _ = d.conn.Write([]byte("0\r\n\r\n"))
		}
	}
	_ = d.conn.Close()
	s.releaseBuf()
	_ = s.sub.Close()
	s.h.o.Observer.OnSubEnded("sse", reason, err, d.filters...)
	s.sess.End()
}

// takeBuf gets a write buffer from the pool for a burst.
func (s *stream) takeBuf() {
	if s.buf == nil {
		s.buf = (*bufPool.Get().(*[]byte))[:0]
	}
	if s.d.chunked && len(s.buf) == 0 {
		s.buf = s.buf[:chunkRoom]
	}
}

// releaseBuf returns the write buffer to the pool: an idle stream keeps
// none.
func (s *stream) releaseBuf() {
	if s.buf == nil || cap(s.buf) > maxBuf {
		s.buf = nil
		return
	}
	b := s.buf[:0]
	s.buf = nil
	bufPool.Put(&b)
}

// writeConn writes the buffered events to a taken-over connection, as
// one chunk when the response is chunked. It reports whether there was
// anything to write.
func (s *stream) writeConn() (bool, error) {
	d := s.d
	body := s.buf
	if d.chunked {
		if len(s.buf) <= chunkRoom {
			return false, nil
		}
		n := len(s.buf) - chunkRoom
		var line [chunkRoom]byte
		hdr := strconv.AppendInt(line[:0], int64(n), 16)
		hdr = append(hdr, '\r', '\n')
		start := chunkRoom - len(hdr)
		copy(s.buf[start:], hdr)
		body = append(s.buf, '\r', '\n')[start:]
	} else if len(body) == 0 {
		return false, nil
	}
	_, err := d.conn.Write(body)
	d.lastWrite = time.Now()
	if err != nil {
		d.broken = true
	}
	return true, err
}
