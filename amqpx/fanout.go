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

// add attaches s; it reports false once the fan-out is closed.
func (f *fanout) add(s *liveSub) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	if !s.filter.Wildcard() {
		f.exact[s.filter.String()] = append(f.exact[s.filter.String()], s)
		return true
	}
	w := f.wild[s.filter.String()]
	if w == nil {
		w = &wildSubs{f: s.filter}
		f.wild[s.filter.String()] = w
	}
	w.subs = append(w.subs, s)
	return true
}

// remove detaches s; it reports whether s was attached.
func (f *fanout) remove(s *liveSub) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := s.filter.String()
	del := func(list []*liveSub) ([]*liveSub, bool) {
		i := slices.Index(list, s)
		if i < 0 {
			return list, false
		}
		return slices.Delete(list, i, i+1), true
	}
	if !s.filter.Wildcard() {
		list, ok := del(f.exact[key])
		if len(list) == 0 {
			delete(f.exact, key)
		} else {
			f.exact[key] = list
		}
		return ok
	}
	w := f.wild[key]
	if w == nil {
		return false
	}
	var ok bool
	w.subs, ok = del(w.subs)
	if len(w.subs) == 0 {
		delete(f.wild, key)
	}
	return ok
}

// deliver offers m to every matching subscription and returns those that
// overflowed (already closed; the caller detaches them).
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

// all returns every attached subscription.
func (f *fanout) all() []*liveSub {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []*liveSub
	for _, l := range f.exact {
		out = append(out, l...)
	}
	for _, w := range f.wild {
		out = append(out, w.subs...)
	}
	return out
}

// liveSub is a plain subscription served from the node queue: no goroutine
// of its own, a bounded channel filled by the node consumer.
type liveSub struct {
	b      *Broker
	filter pubsub.Filter
	key    string // AMQP binding key
	opts   pubsub.SubscribeOptions
	ch     chan *pubsub.Message

	mu     sync.Mutex
	closed bool
	err    error
	stop   func() bool // stops the context.AfterFunc
}

var _ pubsub.Subscription = (*liveSub)(nil)

func (s *liveSub) C() <-chan *pubsub.Message { return s.ch }
func (s *liveSub) Gap() bool                 { return false }

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
	if s.closeWith(err) {
		s.b.detach(s)
	}
}

// closeWith closes the channel; it reports whether this call closed it.
func (s *liveSub) closeWith(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	s.err = err
	close(s.ch)
	if s.stop != nil {
		s.stop()
	}
	return true
}

// offer puts m on the channel without blocking. On a full buffer it drops
// the oldest message (OverflowDropOldest) or closes the subscription with a
// *pubsub.SlowConsumerError and reports true.
func (s *liveSub) offer(m *pubsub.Message) (overflowed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	select {
	case s.ch <- m:
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
		default:
		}
		return false
	}
	s.closed = true
	s.err = &pubsub.SlowConsumerError{}
	close(s.ch)
	if s.stop != nil {
		s.stop()
	}
	return true
}
