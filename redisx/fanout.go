package redisx

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/switchboard-go/switchboard/pubsub"
)

// fanout hands each message the node reader reads to the matching local
// subscriptions. Exact filters are found by map lookup; wildcard filters
// are grouped by filter so each distinct filter is matched once per
// message. Only the node reader calls deliver, so each subscription sees
// messages in stream order.
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

// remove detaches s from all its filters.
func (f *fanout) remove(s *liveSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	del := func(list []*liveSub) []*liveSub {
		if i := slices.Index(list, s); i >= 0 {
			return slices.Delete(list, i, i+1)
		}
		return list
	}
	for _, filter := range s.filters {
		key := filter.String()
		if !filter.Wildcard() {
			if list := del(f.exact[key]); len(list) == 0 {
				delete(f.exact, key)
			} else {
				f.exact[key] = list
			}
		} else if w := f.wild[key]; w != nil {
			if w.subs = del(w.subs); len(w.subs) == 0 {
				delete(f.wild, key)
			}
		}
	}
}

// deliver offers m to every matching subscription and returns those that
// overflowed (already ended; the caller detaches them). A subscription
// found under several of its filters is offered m once.
func (f *fanout) deliver(m *pubsub.Message, seq uint64, dead []*liveSub) []*liveSub {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, s := range f.exact[m.Topic] {
		if s.offer(m, seq) {
			dead = append(dead, s)
		}
	}
	for _, w := range f.wild {
		if !w.f.Match(m.Topic) {
			continue
		}
		for _, s := range w.subs {
			if s.offer(m, seq) {
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

// liveSub is a plain subscription on one or more filters served by the
// node reader, delivering through its Feed: no goroutine of its own, each
// message once and in stream order whatever filter it matches. Resuming
// from a cursor or starting with retained messages adds a replay goroutine
// that owns the channel until it has caught up; live messages are held
// back meanwhile.
type liveSub struct {
	*pubsub.Feed
	b       *Broker
	filters []pubsub.Filter
	gap     bool

	// from is the newest entry when the subscription started: older
	// entries the node reader has yet to fan out are not delivered (the
	// replay, or the moment of the Subscribe call, covers them).
	from atomic.Uint64

	// offered is the last message offered: found under another filter, it
	// is not offered again. Only the node reader touches it.
	offered *pubsub.Message
}

var _ pubsub.Subscription = (*liveSub)(nil)

func newLiveSub(b *Broker, fs []pubsub.Filter, o pubsub.SubscribeOptions) *liveSub {
	return &liveSub{Feed: pubsub.NewFeed(o.Buffer, o.Overflow), b: b, filters: fs}
}

func (s *liveSub) match(topic string) bool { return matchAny(s.filters, topic) }

func matchAny(fs []pubsub.Filter, topic string) bool {
	for _, f := range fs {
		if f.Match(topic) {
			return true
		}
	}
	return false
}

func (s *liveSub) Gap() bool { return s.gap }

// Ack does nothing: plain subscriptions need no acknowledgement.
func (s *liveSub) Ack(*pubsub.Message) error { return nil }

// Nack does nothing: plain subscriptions need no acknowledgement.
func (s *liveSub) Nack(*pubsub.Message, bool) error { return nil }

func (s *liveSub) Close() error {
	s.end(pubsub.ErrClosed)
	return nil
}

// watch ends s when ctx is done.
func (s *liveSub) watch(ctx context.Context) { s.Watch(ctx, s.end) }

// end ends s with err and detaches it from the fan-out.
func (s *liveSub) end(err error) {
	if s.End(err) {
		s.b.fan.remove(s)
	}
}

// offer offers m to s and reports whether s overflowed and ended.
func (s *liveSub) offer(m *pubsub.Message, seq uint64) (overflowed bool) {
	if s.offered == m || seq <= s.from.Load() {
		return false
	}
	s.offered = m
	return s.Offer(m)
}
