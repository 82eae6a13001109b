package pubsub

import (
	"slices"
	"sync"
	"sync/atomic"
)

// memSub is a Memory subscription. Live delivery needs no goroutine: the
// publisher puts the message on the buffered channel. A goroutine runs only
// while a replay (history or retained messages) is larger than the buffer.
type memSub struct {
	b       *memory
	filters []Filter
	opts    SubscribeOptions
	group   *group
	ch      chan *Message
	gap     bool

	// live is false while a replay goroutine runs. While it is true, only
	// holders of b.mu touch closed, last and ch, so the publisher's fast
	// path needs no s.mu.
	live atomic.Bool

	mu        sync.Mutex
	closed    bool
	err       error
	last      string        // cursor of the last message put on ch
	replaying bool          // a replay goroutine owns sends and closing ch
	pending   []*Message    // live messages held back during a replay
	done      chan struct{} // closed when the subscription ends
	stop      func() bool   // stops the context.AfterFunc

	lastOffered *Message // guarded by b.mu: dedupes a message matching two filters

	// ManualAck state, guarded by b.mu.
	inflight []*Message // delivered, not yet acknowledged, in order
	backlog  []*Message // waiting for a free prefetch slot
}

func (s *memSub) C() <-chan *Message { return s.ch }

func (s *memSub) match(topic string) bool {
	for _, f := range s.filters {
		if f.Match(topic) {
			return true
		}
	}
	return false
}
func (s *memSub) Gap() bool { return s.gap }

func (s *memSub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *memSub) Close() error {
	s.end(ErrClosed)
	return nil
}

// end closes the subscription with err and detaches it from the broker.
func (s *memSub) end(err error) {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	s.mu.Lock()
	s.closeLocked(err)
	s.mu.Unlock()
	b.removeLocked(s)
	b.reapLocked()
}

// closeLocked marks s closed; s.mu must be held. The channel is closed here
// unless a replay goroutine owns it, which then closes it on exit.
func (s *memSub) closeLocked(err error) {
	if s.closed {
		return
	}
	s.closed = true
	s.err = err
	close(s.done)
	if !s.replaying {
		close(s.ch)
	}
	if s.stop != nil {
		s.stop()
	}
}

// start delivers the initial messages (retained or replayed); b.mu held.
func (s *memSub) start(initial []*Message) {
	if s.opts.ManualAck {
		s.inflight = make([]*Message, 0, min(s.opts.Prefetch, 64))
		s.backlog = append(s.backlog, initial...)
		s.pumpLocked()
		return
	}
	if len(initial) <= cap(s.ch) {
		for _, m := range initial {
			s.ch <- m
		}
		if len(initial) > 0 {
			s.last = initial[len(initial)-1].Cursor
		}
		return
	}
	s.replaying = true
	s.live.Store(false)
	s.b.wg.Add(1)
	go s.replay(initial)
}

// replay sends a backlog larger than the buffer, then the live messages
// that arrived meanwhile, then hands delivery back to publishers.
func (s *memSub) replay(batch []*Message) {
	defer s.b.wg.Done()
	for {
		for _, m := range batch {
			select {
			case s.ch <- m:
				s.mu.Lock()
				s.sent(m)
				s.mu.Unlock()
			case <-s.done:
				s.mu.Lock()
				s.replaying = false
				close(s.ch)
				s.mu.Unlock()
				return
			}
		}
		s.mu.Lock()
		if s.closed {
			s.replaying = false
			close(s.ch)
			s.mu.Unlock()
			return
		}
		if len(s.pending) == 0 {
			s.replaying = false
			s.pending = nil
			s.live.Store(true)
			s.mu.Unlock()
			return
		}
		batch, s.pending = s.pending, nil
		s.mu.Unlock()
	}
}

// sent records that m was put on the channel; s.mu held. If the
// subscription has already overflowed, its error learns the new last cursor.
func (s *memSub) sent(m *Message) {
	s.last = m.Cursor
	if sc, ok := s.err.(*SlowConsumerError); ok {
		sc.LastCursor = m.Cursor
	}
}

// closeSlow ends s as a slow consumer; s.mu held.
func (s *memSub) closeSlow() { s.closeLocked(&SlowConsumerError{LastCursor: s.last}) }

// offer delivers a live message to an automatic-ack subscription without
// blocking; b.mu held. It reports whether the subscription overflowed and
// closed, so the caller detaches it.
func (s *memSub) offer(m *Message) (overflowed bool) {
	if s.live.Load() && !s.closed {
		select {
		case s.ch <- m:
			s.last = m.Cursor
			return false
		default:
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.replaying {
		if len(s.pending) >= s.opts.Buffer {
			if s.opts.Overflow != OverflowDropOldest {
				s.closeSlow()
				return true
			}
			s.pending = slices.Delete(s.pending, 0, 1)
		}
		s.pending = append(s.pending, m)
		return false
	}
	select {
	case s.ch <- m:
		s.last = m.Cursor
		return false
	default:
	}
	if s.opts.Overflow == OverflowDropOldest {
		select {
		case <-s.ch:
		default:
		}
		select {
		case s.ch <- m:
			s.last = m.Cursor
		default:
		}
		return false
	}
	s.closeSlow()
	return true
}

// tryOffer delivers to a group member without blocking and without
// overflow handling; b.mu held.
func (s *memSub) tryOffer(m *Message) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.ch <- m:
		s.last = m.Cursor
		return true
	default:
		return false
	}
}

// overflow closes s as a slow consumer; b.mu held.
func (s *memSub) overflow() {
	s.mu.Lock()
	s.closeSlow()
	s.mu.Unlock()
	s.b.dead = append(s.b.dead, s)
}

// pushLocked queues a live message for a ManualAck subscription; b.mu held.
func (s *memSub) pushLocked(m *Message) {
	if len(s.backlog) >= s.b.opts.Backlog {
		if s.opts.Overflow != OverflowDropOldest {
			s.overflow()
			return
		}
		s.backlog = slices.Delete(s.backlog, 0, 1)
	}
	s.backlog = append(s.backlog, m)
	s.pumpLocked()
}

// pumpLocked moves backlog into free prefetch slots; b.mu held. The
// channel always has room: unacknowledged deliveries never exceed
// Prefetch, which never exceeds the buffer.
func (s *memSub) pumpLocked() {
	for len(s.backlog) > 0 && len(s.inflight) < s.opts.Prefetch {
		m := s.backlog[0]
		s.backlog[0] = nil
		s.backlog = s.backlog[1:]
		d := *m
		if !s.deliverAck(&d) {
			return
		}
	}
}

// deliverAck puts a delivery copy on the channel and tracks it; b.mu held.
func (s *memSub) deliverAck(d *Message) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.ch <- d:
		s.last = d.Cursor
		s.inflight = append(s.inflight, d)
		return true
	default: // cannot happen while inflight <= Prefetch <= cap(ch)
		return false
	}
}

func (s *memSub) Ack(m *Message) error {
	if !s.opts.ManualAck || m == nil {
		return nil
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || !s.settleLocked(m) {
		return nil
	}
	s.refillLocked()
	return nil
}

func (s *memSub) Nack(m *Message, requeue bool) error {
	if !s.opts.ManualAck || m == nil {
		return nil
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || !s.settleLocked(m) {
		return nil
	}
	switch {
	case !requeue:
		b.deadLetterLocked(&s.opts, m, "rejected")
	case s.opts.MaxDeliveries > 0 && m.Attempt >= s.opts.MaxDeliveries:
		b.deadLetterLocked(&s.opts, m, "max-deliveries")
	default:
		r := *m
		r.Attempt++
		if s.group != nil {
			s.group.backlog = slices.Insert(s.group.backlog, 0, &r)
		} else {
			s.backlog = slices.Insert(s.backlog, 0, &r)
		}
	}
	s.refillLocked()
	return nil
}

// settleLocked removes m from the in-flight deliveries; b.mu held.
func (s *memSub) settleLocked(m *Message) bool {
	i := slices.Index(s.inflight, m)
	if i < 0 {
		return false
	}
	s.inflight = slices.Delete(s.inflight, i, i+1)
	return true
}

// refillLocked fills the prefetch slot freed by an ack or nack.
func (s *memSub) refillLocked() {
	if s.group != nil {
		s.group.pump()
	} else {
		s.pumpLocked()
	}
	s.b.reapLocked()
}
