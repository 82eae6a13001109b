package sse

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/switchboard-go/switchboard/internal/httpstream"
	"github.com/switchboard-go/switchboard/internal/wire"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// stream is one open event stream. Only the ServeHTTP goroutine uses it.
type stream struct {
	h     *Handler
	w     http.ResponseWriter
	rc    *http.ResponseController
	sub   pubsub.Subscription
	sess  *httpstream.Session
	buf   []byte
	batch []*pubsub.Message
	alt   bool      // the request asked for the format Options.Format is not
	d     *detached // set when the stream is taken over from net/http

	deadline time.Time // the write deadline set last
}

func newStream(h *Handler, w http.ResponseWriter, sub pubsub.Subscription, sess *httpstream.Session) *stream {
	return &stream{h: h, w: w, rc: http.NewResponseController(w), sub: sub, sess: sess}
}

// errStreamCut ends a stream whose session was cut.
var errStreamCut = errors.New("sse: stream cut")

// maxBuf is the write buffer kept between batches; a bigger one is dropped.
const maxBuf = 64 << 10

// flush writes the buffered events and flushes the response (the headers,
// when nothing is buffered yet).
func (s *stream) flush() error {
	if s.d != nil && (len(s.buf) == 0 || s.d.chunked && len(s.buf) <= chunkRoom) {
		return nil // taken over: there are no headers to flush
	}
	if d := s.h.o.WriteTimeout; d > 0 {
		// Refresh the deadline only when less than 3/4 of the timeout is
		// left: setting it costs ~10% of a delivery under fan-out.
		if now := time.Now(); s.deadline.Sub(now) < d*3/4 {
			s.deadline = now.Add(d)
			if s.d != nil {
				_ = s.d.conn.SetWriteDeadline(s.deadline)
			} else {
				_ = s.rc.SetWriteDeadline(s.deadline)
			}
			if s.sess.IsCut() {
				return errStreamCut // the new deadline may have replaced Cut's
			}
		}
	}
	if s.d != nil {
		_, err := s.writeConn()
		s.releaseBuf()
		s.takeBuf()
		return err
	}
	var err error
	if len(s.buf) > 0 {
		_, err = s.w.Write(s.buf)
	}
	if err == nil {
		err = s.rc.Flush()
	}
	if cap(s.buf) > maxBuf {
		s.buf = nil
	} else {
		s.buf = s.buf[:0]
	}
	return err
}

// preamble writes retry: and the sb-open or sb-reset event.
func (s *stream) preamble(st start) {
	if s.h.o.Retry > 0 {
		s.buf = appendRetry(s.buf, s.h.o.Retry.Milliseconds())
		s.buf = append(s.buf, '\n')
	}
	if st.resume != "" {
		return
	}
	name := "sb-open"
	var body struct {
		Reason string `json:"reason,omitempty"`
		Cursor string `json:"cursor,omitempty"`
	}
	if st.reset != "" {
		name, body.Reason = "sb-reset", st.reset
	}
	body.Cursor = st.head
	s.buf = appendField(s.buf, "event", name)
	if st.head != "" && cleanField(st.head) {
		s.buf = appendField(s.buf, "id", st.head)
	}
	b, _ := json.Marshal(body)
	s.buf = appendData(s.buf, b)
	s.buf = append(s.buf, '\n')
}

// run pumps messages until the client leaves, the subscription ends, or
// the session is told to go away (it writes what was delivered, then
// ends) or cut (it ends at once). The subscription delivers each message once, in
// cursor order, whatever filter it matched (pubsub.SubscribeAll), so the
// id of every event covers everything sent before it.
func (s *stream) run() (transport.EndReason, error) {
	var ka <-chan time.Time
	if d := s.h.o.KeepAlive; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		ka = t.C
	}
	done := s.sess.Context().Done()
	c := s.sub.C()
	for {
		select {
		case m, ok := <-c:
			if !ok {
				return s.end()
			}
			s.batch = append(s.batch[:0], m)
			if closed := s.collect(); closed {
				// Slow consumer or broker closed: send what was delivered,
				// then end; the client resumes from the last id.
				s.writeBatch()
				r, err := s.end()
				_ = s.flush()
				return r, err
			}
			s.writeBatch()
		case <-ka:
			s.buf = append(s.buf, ": ping\n\n"...)
		case <-done:
			if s.sess.IsCut() {
				return transport.EndShutdown, nil
			}
			return transport.EndClient, nil
		case <-s.sess.GoingAway():
			if !s.sess.IsCut() {
				s.drain()
			}
			return transport.EndShutdown, nil
		}
		if err := s.flush(); err != nil {
			return s.writeFailed(err), err
		}
	}
}

// writeFailed logs a failed write and tells why the stream ends.
func (s *stream) writeFailed(err error) transport.EndReason {
	s.h.log.Debug("sse: write failed", "err", err)
	switch {
	case s.sess.IsCut():
		return transport.EndShutdown
	case errors.Is(err, os.ErrDeadlineExceeded):
		return transport.EndSlowConsumer // the client stopped reading
	}
	return transport.EndError
}

// collect appends the messages already waiting on the subscription to
// s.batch without blocking, at most its buffer's capacity, and reports
// whether its channel turned out closed.
func (s *stream) collect() (closed bool) {
	c := s.sub.C()
	for range max(cap(c), 1) {
		select {
		case m, ok := <-c:
			if !ok {
				return true
			}
			s.batch = append(s.batch, m)
		default:
			return false
		}
	}
	return false
}

// drain writes what is already delivered, for a graceful shutdown.
func (s *stream) drain() {
	s.batch = s.batch[:0]
	s.collect()
	s.writeBatch()
	_ = s.flush()
}

// end logs why the subscription ended; the stream then closes and the
// client reconnects with the Last-Event-ID of the last event it got.
func (s *stream) end() (transport.EndReason, error) {
	err := s.sub.Err()
	if errors.Is(err, pubsub.ErrSlowConsumer) {
		s.h.log.Warn("sse: slow client disconnected; it resumes from its Last-Event-ID", "err", err)
	} else {
		s.h.log.Debug("sse: subscription ended", "err", err)
	}
	if s.sess.IsCut() {
		return transport.EndShutdown, err
	}
	return transport.ReasonOf(err), err
}

func (s *stream) writeBatch() {
	for i, m := range s.batch {
		s.writeMessage(m)
		s.batch[i] = nil
	}
	s.batch = s.batch[:0]
}

// writeMessage appends one event. Its id is the message's cursor, so the
// browser's Last-Event-ID is always the last event it got and a reconnect
// replays exactly what follows. Retained messages (old state sent to a new
// stream) carry no id: resuming from them would replay old history.
func (s *stream) writeMessage(m *pubsub.Message) {
	n := len(s.buf)
	if s.alt {
		s.buf = s.h.alt.Append(s.buf, m, s.h.altEncode)
		s.h.o.Observer.OnDelivered("sse", m, len(s.buf)-n)
		return
	}
	s.buf = s.h.cache.Append(s.buf, m, s.h.encode)
	s.h.o.Observer.OnDelivered("sse", m, len(s.buf)-n)
}

// eventID is the id: of m's event, "" for none.
func eventID(m *pubsub.Message) string {
	if m.Cursor != "" && !m.Retain && cleanField(m.Cursor) {
		return m.Cursor
	}
	return ""
}

// appendEnvelope appends the envelope as data lines. A JSON payload
// travels verbatim in the envelope and may hold LF as whitespace: one data
// line per line joins back to the same bytes. (The envelope never holds a
// raw CR, which SSE would turn into LF: such payloads travel as an escaped
// text or data_b64 string.)
func appendEnvelope(dst []byte, m *pubsub.Message) []byte {
	start := len(dst)
	dst = append(dst, "data: "...)
	dst = wire.AppendEnvelope(dst, m)
	if bytes.IndexByte(dst[start:], '\n') < 0 && bytes.IndexByte(dst[start:], '\r') < 0 {
		return append(dst, '\n')
	}
	env := append([]byte(nil), dst[start+len("data: "):]...)
	return appendData(dst[:start], env)
}
