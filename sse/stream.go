package sse

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// stream is one open event stream. Only the ServeHTTP goroutine uses it.
type stream struct {
	h     *Handler
	w     http.ResponseWriter
	rc    *http.ResponseController
	subs  []pubsub.Subscription
	buf   []byte
	batch []*pubsub.Message

	deadline time.Time // the write deadline set last

	// Recently sent sequence numbers, to drop the copies that overlapping
	// filters deliver (multi-filter streams only).
	recent [32]uint64
	nrec   int
}

func newStream(h *Handler, w http.ResponseWriter, subs []pubsub.Subscription) *stream {
	return &stream{h: h, w: w, rc: http.NewResponseController(w), subs: subs}
}

// maxBuf is the write buffer kept between batches; a bigger one is dropped.
const maxBuf = 64 << 10

// flush writes the buffered events and flushes the response (the headers,
// when nothing is buffered yet).
func (s *stream) flush() error {
	if d := s.h.o.WriteTimeout; d > 0 {
		// Refresh the deadline only when less than 3/4 of the timeout is
		// left: setting it costs ~10% of a delivery under fan-out.
		if now := time.Now(); s.deadline.Sub(now) < d*3/4 {
			s.deadline = now.Add(d)
			_ = s.rc.SetWriteDeadline(s.deadline)
		}
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

// writeBacklog sends the history a multi-filter resume read, a page at a
// time, and flushes.
func (s *stream) writeBacklog(backlog []*pubsub.Message) error {
	for len(backlog) > 0 {
		n := min(len(backlog), catchUpPage)
		for _, m := range backlog[:n] {
			s.writeMessage(m)
		}
		backlog = backlog[n:]
		if err := s.flush(); err != nil {
			return err
		}
	}
	return s.flush()
}

// run pumps messages until the client leaves, a subscription ends or the
// handler shuts down.
func (s *stream) run(ctx context.Context) {
	var hb <-chan time.Time
	if d := s.h.o.Heartbeat; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		hb = t.C
	}
	if len(s.subs) == 1 {
		s.runOne(ctx, hb)
		return
	}
	s.runMany(ctx, hb)
}

func (s *stream) runOne(ctx context.Context, hb <-chan time.Time) {
	c := s.subs[0].C()
	for {
		select {
		case m, ok := <-c:
			if !ok {
				s.end(0)
				return
			}
			s.batch = append(s.batch[:0], m)
			if closed := s.collect(); closed >= 0 {
				s.writeBatch()
				s.end(closed)
				_ = s.flush()
				return
			}
			s.writeBatch()
		case <-hb:
			s.buf = append(s.buf, ": ping\n\n"...)
		case <-ctx.Done():
			return
		case <-s.h.drain.Closing():
			s.drain()
			return
		}
		if err := s.flush(); err != nil {
			s.h.log.Debug("sse: write failed", "err", err)
			return
		}
	}
}

func (s *stream) runMany(ctx context.Context, hb <-chan time.Time) {
	n := len(s.subs)
	cases := make([]reflect.SelectCase, n, n+3)
	for i, sub := range s.subs {
		cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sub.C())}
	}
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.h.drain.Closing())})
	if hb != nil {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(hb)})
	}
	for {
		i, v, ok := reflect.Select(cases)
		switch {
		case i < n:
			if !ok {
				s.batch = s.batch[:0]
				s.collect()
				s.writeBatch()
				s.end(i)
				_ = s.flush()
				return
			}
			s.batch = append(s.batch[:0], v.Interface().(*pubsub.Message))
			closed := s.collect()
			s.writeBatch()
			if closed >= 0 {
				s.end(closed)
				_ = s.flush()
				return
			}
		case i == n: // client gone
			return
		case i == n+1:
			s.drain()
			return
		default:
			s.buf = append(s.buf, ": ping\n\n"...)
		}
		if err := s.flush(); err != nil {
			s.h.log.Debug("sse: write failed", "err", err)
			return
		}
	}
}

// collect appends every message already waiting on any subscription to
// s.batch without blocking (bounded by the subscriptions' buffers) and
// returns the index of a subscription whose channel turned out closed, or
// -1. Taking everything that waits, then sorting by cursor, keeps ids in
// order across filters: the broker hands out a message to all its
// subscriptions before the next one.
func (s *stream) collect() int {
	closed := -1
	for i, sub := range s.subs {
		c := sub.C()
	loop:
		for {
			select {
			case m, ok := <-c:
				if !ok {
					closed = i
					break loop
				}
				s.batch = append(s.batch, m)
			default:
				break loop
			}
		}
	}
	if closed >= 0 {
		// After an overflow, send nothing past the overflowed
		// subscription's last cursor: the client resumes from there.
		var sc *pubsub.SlowConsumerError
		if errors.As(s.subs[closed].Err(), &sc) && sc.LastCursor != "" {
			if lc, err := pubsub.ParseCursor(sc.LastCursor); err == nil {
				s.batch = slices.DeleteFunc(s.batch, func(m *pubsub.Message) bool {
					c, err := pubsub.ParseCursor(m.Cursor)
					return err == nil && c.Epoch == lc.Epoch && c.Seq > lc.Seq
				})
			}
		}
	}
	return closed
}

// drain writes what is already delivered, for a graceful shutdown.
func (s *stream) drain() {
	s.batch = s.batch[:0]
	s.collect()
	s.writeBatch()
	_ = s.flush()
}

// end logs why subscription i ended; the stream then closes and the client
// reconnects with the Last-Event-ID of the last event it got.
func (s *stream) end(i int) {
	err := s.subs[i].Err()
	switch {
	case errors.Is(err, pubsub.ErrSlowConsumer):
		s.h.log.Warn("sse: slow client disconnected; it resumes from its Last-Event-ID", "err", err)
	default:
		s.h.log.Debug("sse: subscription ended", "err", err)
	}
}

func (s *stream) writeBatch() {
	if len(s.subs) > 1 && len(s.batch) > 1 {
		slices.SortStableFunc(s.batch, func(a, b *pubsub.Message) int {
			ca, ea := pubsub.ParseCursor(a.Cursor)
			cb, eb := pubsub.ParseCursor(b.Cursor)
			if ea != nil || eb != nil || ca.Epoch != cb.Epoch {
				return 0
			}
			return cmp.Compare(ca.Seq, cb.Seq)
		})
	}
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
	id := ""
	if m.Cursor != "" && !m.Retain && cleanField(m.Cursor) {
		id = m.Cursor
		if len(s.subs) > 1 {
			if c, err := pubsub.ParseCursor(m.Cursor); err == nil {
				if s.seen(c.Seq) {
					return // the same message through an overlapping filter
				}
				s.remember(c.Seq)
			}
		}
	}
	s.buf = s.h.appendEvent(s.buf, m, id)
}

func (s *stream) remember(seq uint64) {
	s.recent[s.nrec%len(s.recent)] = seq
	s.nrec++
}

func (s *stream) seen(seq uint64) bool {
	for i := 0; i < len(s.recent) && i < s.nrec; i++ {
		if s.recent[i] == seq {
			return true
		}
	}
	return false
}

// appendEnvelope appends the envelope as data lines. A JSON payload
// travels verbatim in the envelope and may hold LF as whitespace: one data
// line per line joins back to the same bytes. (The envelope never holds a
// raw CR, which SSE would turn into LF: transport sends such payloads as
// data_b64.)
func appendEnvelope(dst []byte, m *pubsub.Message) []byte {
	start := len(dst)
	dst = append(dst, "data: "...)
	dst = transport.AppendEnvelope(dst, m)
	if bytes.IndexByte(dst[start:], '\n') < 0 && bytes.IndexByte(dst[start:], '\r') < 0 {
		return append(dst, '\n')
	}
	env := append([]byte(nil), dst[start+len("data: "):]...)
	return appendData(dst[:start], env)
}
