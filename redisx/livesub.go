package redisx

import (
	"context"
	"sync/atomic"

	"github.com/switchboard-go/switchboard/pubsub"
)

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

// Filters returns s's filters, for the fan-out (fanout.Sub).
func (s *liveSub) Filters() []pubsub.Filter { return s.filters }

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
		s.b.fan.Remove(s)
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
