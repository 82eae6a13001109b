package natsx

import (
	"context"
	"slices"
	"sync"

	"github.com/switchboard-go/switchboard/pubsub"
)

// fanout hands each live message of the node to the matching local
// subscriptions. Exact filters are found by map lookup; wildcard filters are
// grouped by filter so each distinct filter is matched once per message.
// Only the node's dispatcher calls deliver, so each subscription sees
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
// node's core NATS subscriptions, delivering through its Feed: no
// goroutine of its own, a bounded channel filled by the node consumer,
// each message once and in queue (or stream) order whatever filter it
// matches. Resuming from a cursor adds a replay goroutine (see
// Broker.replay) that owns the channel until it has caught up; live
// messages are held back meanwhile.
type liveSub struct {
	*pubsub.Feed
	b        *Broker
	filters  []pubsub.Filter
	subjects []string // live subjects, one reference each
	gap      bool

	// offered is the last message offered: found under another filter, it
	// is not offered again. Only the node consumer (the one caller of
	// fanout.deliver) touches it.
	offered *pubsub.Message
}

var _ pubsub.Subscription = (*liveSub)(nil)

func newLiveSub(b *Broker, fs []pubsub.Filter, subjects []string, o pubsub.SubscribeOptions) *liveSub {
	return &liveSub{Feed: pubsub.NewFeed(o.Buffer, o.Overflow), b: b, filters: fs, subjects: subjects}
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

func (s *liveSub) Gap() bool { return s.gap }

// Ack does nothing: plain subscriptions are acknowledged by the node.
func (s *liveSub) Ack(*pubsub.Message) error { return nil }

// Nack does nothing: plain subscriptions are acknowledged by the node.
func (s *liveSub) Nack(*pubsub.Message, bool) error { return nil }

func (s *liveSub) Close() error {
	s.end(pubsub.ErrClosed)
	return nil
}

// watch ends s when ctx is done.
func (s *liveSub) watch(ctx context.Context) { s.Watch(ctx, s.end) }

// end ends s with err and releases its binding.
func (s *liveSub) end(err error) {
	if s.End(err) {
		s.b.detach(s)
	}
}

// offer offers m to s (see pubsub.Feed.Offer) and reports whether s
// overflowed and ended. The fan-out offers a message once per matching
// filter, one after the other: only the first offer of the same message
// counts.
func (s *liveSub) offer(m *pubsub.Message) (overflowed bool) {
	if s.offered == m {
		return false
	}
	s.offered = m
	return s.Offer(m)
}
