package pubsub

import "slices"

// memSub is a Memory subscription, delivering through its Feed. Live
// delivery needs no goroutine: the publisher puts the message on the
// buffered channel, without the feed's mutex (every Offer and End is made
// under b.mu). A goroutine runs only while a replay (history or retained
// messages) is larger than the buffer.
//
// ManualAck subscriptions and group members use the channel but not the
// feed's overflow policy or replay: their messages wait in a backlog
// (their own, or the group's, bounded by MemoryOptions.Backlog) and move
// to the channel as prefetch slots free up, so it never overflows.
type memSub struct {
	Feed
	b       *memory
	filters []Filter
	opts    SubscribeOptions
	group   *group
	gap     bool

	lastOffered *Message // guarded by b.mu: dedupes a message matching two filters

	// ManualAck state, guarded by b.mu.
	inflight []*Message // delivered, not yet acknowledged, in order
	backlog  []*Message // waiting for a free prefetch slot
}

func newMemSub(b *memory, fs []Filter, o SubscribeOptions) *memSub {
	s := &memSub{b: b, filters: fs, opts: o}
	s.setup(o.Buffer, o.Overflow, true)
	return s
}

func (s *memSub) match(topic string) bool {
	for _, f := range s.filters {
		if f.Match(topic) {
			return true
		}
	}
	return false
}

func (s *memSub) Gap() bool { return s.gap }

func (s *memSub) Close() error {
	s.end(ErrClosed)
	return nil
}

// end ends the subscription with err and detaches it from the broker.
func (s *memSub) end(err error) {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	s.End(err)
	b.removeLocked(s)
	b.reapLocked()
}

// start delivers the initial messages (retained or replayed); b.mu held.
func (s *memSub) start(initial []*Message) {
	if s.opts.ManualAck {
		s.inflight = make([]*Message, 0, min(s.opts.Prefetch, 64))
		s.backlog = append(s.backlog, initial...)
		s.pumpLocked()
		return
	}
	if len(initial) <= s.opts.Buffer {
		for _, m := range initial {
			s.Offer(m) // there is room: the subscription is new
		}
		return
	}
	s.Hold()
	s.b.wg.Add(1)
	go func() {
		defer s.b.wg.Done()
		s.Replay(slices.Values(initial), nil, 0)
	}()
}

// overflow closes s as a slow consumer; b.mu held.
func (s *memSub) overflow() {
	s.endSlow()
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
	if !s.put(d) { // full cannot happen while inflight <= Prefetch <= Buffer
		return false
	}
	s.inflight = append(s.inflight, d)
	return true
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
