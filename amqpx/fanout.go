package amqpx

import (
	"context"
	"slices"
	"sync"

	"github.com/switchboard-go/switchboard/pubsub"
)

// fanout hands each delivery of the node queue to the matching local
// subscriptions. Exact filters are found by map lookup; wildcard filters are
// grouped by filter so each distinct filter is matched once per message.
// Only the node consumer goroutine calls deliver, so each subscription sees
// messages in queue order.
type fanout struct {
	mu     sync.RWMutex
	exact  map[string][]*liveSub
	wild   map[string]*wildSubs
	closed bool
}

type wildSubs struct {
	f    pubsub.Filter
	subs []*liveSub
}

func newFanout() *fanout {
	return &fanout{exact: make(map[string][]*liveSub), wild: make(map[string]*wildSubs)}
}

// add attaches s under each of its filters; it reports false once the
// fan-out is closed.
func (f *fanout) add(s *liveSub) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	for _, filter := range s.filters {
		key := filter.String()
		if !filter.Wildcard() {
			f.exact[key] = append(f.exact[key], s)
			continue
		}
		w := f.wild[key]
		if w == nil {
			w = &wildSubs{f: filter}
			f.wild[key] = w
		}
		w.subs = append(w.subs, s)
	}
	return true
}

// remove detaches s from all its filters; it reports whether s was
// attached.
func (f *fanout) remove(s *liveSub) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	del := func(list []*liveSub) ([]*liveSub, bool) {
		i := slices.Index(list, s)
		if i < 0 {
			return list, false
		}
		return slices.Delete(list, i, i+1), true
	}
	removed := false
	for _, filter := range s.filters {
		key := filter.String()
		var ok bool
		if !filter.Wildcard() {
			var list []*liveSub
			list, ok = del(f.exact[key])
			if len(list) == 0 {
				delete(f.exact, key)
			} else {
				f.exact[key] = list
			}
		} else if w := f.wild[key]; w != nil {
			w.subs, ok = del(w.subs)
			if len(w.subs) == 0 {
				delete(f.wild, key)
			}
		}
		removed = removed || ok
	}
	return removed
}

// deliver offers m to every matching subscription and returns those that
// overflowed (already closed; the caller detaches them). A subscription
// found under several of its filters is offered m once (see offer).
func (f *fanout) deliver(m *pubsub.Message, dead []*liveSub) []*liveSub {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, s := range f.exact[m.Topic] {
		if s.offer(m) {
			dead = append(dead, s)
		}
	}
	for _, w := range f.wild {
		if !w.f.Match(m.Topic) {
			continue
		}
		for _, s := range w.subs {
			if s.offer(m) {
				dead = append(dead, s)
			}
		}
	}
	return dead
}

// closeAll refuses further subscriptions and returns the attached ones.
func (f *fanout) closeAll() []*liveSub {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return f.all()
}

// all returns every attached subscription, once each.
func (f *fanout) all() []*liveSub {
	f.mu.RLock()
	defer f.mu.RUnlock()
	seen := make(map[*liveSub]struct{})
	var out []*liveSub
	add := func(l []*liveSub) {
		for _, s := range l {
			if _, ok := seen[s]; !ok {
				seen[s] = struct{}{}
				out = append(out, s)
			}
		}
	}
	for _, l := range f.exact {
		add(l)
	}
	for _, w := range f.wild {
		add(w.subs)
	}
	return out
}

// liveSub is a plain subscription on one or more filters served from the
// node queue (or the history stream): no goroutine of its own, a bounded
// channel filled by the node consumer, each message once and in queue (or
// stream) order whatever filter it matches. Resuming from a cursor adds a
// replay goroutine that owns the channel until it has caught up; live
// messages wait in pending meanwhile.
type liveSub struct {
	b       *Broker
	filters []pubsub.Filter
	keys    []string // AMQP binding keys, one per filter (one reference each)
	opts    pubsub.SubscribeOptions
	ch      chan *pubsub.Message
	done    chan struct{} // closed when the subscription ends
	gap     bool

	mu        sync.Mutex
	closed    bool
	err       error
	last      string // cursor of the last message put on ch
	replaying bool   // a replay goroutine owns sends to ch and closing it
	pending   []*pubsub.Message
	stop      func() bool     // stops the context.AfterFunc
	offered   *pubsub.Message // the last message offered: found under another filter, it is not offered again
}

var _ pubsub.Subscription = (*liveSub)(nil)

func newLiveSub(b *Broker, fs []pubsub.Filter, keys []string, o pubsub.SubscribeOptions) *liveSub {
	return &liveSub{b: b, filters: fs, keys: keys, opts: o, ch: make(chan *pubsub.Message, o.Buffer), done: make(chan struct{})}
}

// match reports whether topic matches any of s's filters.
func (s *liveSub) match(topic string) bool {
	return matchAny(s.filters, topic)
}

func matchAny(fs []pubsub.Filter, topic string) bool {
	for _, f := range fs {
		if f.Match(topic) {
			return true
		}
	}
	return false
}

func (s *liveSub) C() <-chan *pubsub.Message { return s.ch }
func (s *liveSub) Gap() bool                 { return s.gap }

// Ack does nothing: plain subscriptions are acknowledged by the node.
func (s *liveSub) Ack(*pubsub.Message) error { return nil }

// Nack does nothing: plain subscriptions are acknowledged by the node.
func (s *liveSub) Nack(*pubsub.Message, bool) error { return nil }

func (s *liveSub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *liveSub) Close() error {
	s.end(pubsub.ErrClosed)
	return nil
}

// watch ends s when ctx is done.
func (s *liveSub) watch(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { s.end(ctx.Err()) })
	s.mu.Lock()
	s.stop = stop
	closed := s.closed
	s.mu.Unlock()
	if closed {
		stop()
	}
}

// end closes s with err and releases its binding.
func (s *liveSub) end(err error) {
	s.mu.Lock()
	closed := s.closeLocked(err)
	s.mu.Unlock()
	if closed {
		s.b.detach(s)
	}
}

// closeLocked ends s; it reports whether this call ended it. s.mu held.
func (s *liveSub) closeLocked(err error) bool {
	if s.closed {
		return false
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
	return true
}

// sent records that m was put on ch; s.mu held. If s already overflowed,
// its error learns the new last cursor.
func (s *liveSub) sent(m *pubsub.Message) {
	s.last = m.Cursor
	if sc, ok := s.err.(*pubsub.SlowConsumerError); ok {
		sc.LastCursor = m.Cursor
	}
}

// offer puts m on the channel without blocking. On a full buffer it drops
// the oldest message (OverflowDropOldest) or closes the subscription with a
// *pubsub.SlowConsumerError and reports true. The fan-out offers a message
// once per matching filter, one after the other: only the first offer of
// the same message counts.
func (s *liveSub) offer(m *pubsub.Message) (overflowed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.offered == m {
		return false
	}
	s.offered = m
	if s.replaying {
		if len(s.pending) >= s.opts.Buffer {
			if s.opts.Overflow != pubsub.OverflowDropOldest {
				return s.closeLocked(&pubsub.SlowConsumerError{LastCursor: s.last})
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
	if s.opts.Overflow == pubsub.OverflowDropOldest {
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
	return s.closeLocked(&pubsub.SlowConsumerError{LastCursor: s.last})
}
