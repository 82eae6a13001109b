package natsx

import (
	"context"

	"github.com/switchboard-go/switchboard/pubsub"
)

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
	// the fan-out's Deliver) touches it.
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

// Filters returns s's filters, for the fan-out (fanout.Sub).
func (s *liveSub) Filters() []pubsub.Filter { return s.filters }

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
