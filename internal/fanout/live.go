package fanout

import (
	"context"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Live is the broker-independent part of a scale-out broker's plain
// subscription (one or more filters, no consumer group): the Feed it
// delivers through, its filters, the gap flag and the de-duplication of a
// message found under several of its filters. The broker embeds a *Live
// in its subscription type, next to its own fields (binding keys,
// subjects, a start position), and routes it with a Table.
//
// Live ends through Stop (and Close and Watch, which call it): Stop ends
// the Feed and, when that call ended it, calls the detach function given
// to NewLive, which releases the subscription's place in the broker's
// routing. Feed.End, still reachable through the embedded Feed, ends the
// feed without detaching, for a subscription not yet attached.
type Live struct {
	*pubsub.Feed
	filters []pubsub.Filter
	gap     bool
	detach  func()

	// offered is the last message offered: found under another filter, it
	// is not offered again. Only OfferOnce touches it, and only the one
	// goroutine per node that calls the Table's Deliver (the node
	// consumer or reader) calls OfferOnce.
	offered *pubsub.Message
}

var _ pubsub.Subscription = (*Live)(nil)

// NewLive returns a Live on filters fs, with a Feed of o's Buffer and
// Overflow. detach is called at most once, by the Stop that ended the
// feed; it must not be nil.
func NewLive(fs []pubsub.Filter, o pubsub.SubscribeOptions, detach func()) *Live {
	return &Live{Feed: pubsub.NewFeed(o.Buffer, o.Overflow), filters: fs, detach: detach}
}

// Filters returns l's filters, for the Table (Sub).
func (l *Live) Filters() []pubsub.Filter { return l.filters }

// Match reports whether topic matches any of l's filters.
func (l *Live) Match(topic string) bool { return MatchAny(l.filters, topic) }

// MatchAny reports whether topic matches any of fs.
func MatchAny(fs []pubsub.Filter, topic string) bool {
	for _, f := range fs {
		if f.Match(topic) {
			return true
		}
	}
	return false
}

// Gap reports what SetGap set (see pubsub.Subscription).
func (l *Live) Gap() bool { return l.gap }

// SetGap records whether l resumed from a cursor its broker's history no
// longer reaches. Call it before the subscription is returned to its
// caller.
func (l *Live) SetGap(gap bool) { l.gap = gap }

// Ack does nothing: plain subscriptions need no acknowledgement from their
// caller (the node acknowledges what it receives, where the broker has
// acknowledgements).
func (l *Live) Ack(*pubsub.Message) error { return nil }

// Nack does nothing, like Ack.
func (l *Live) Nack(*pubsub.Message, bool) error { return nil }

// Close ends l with pubsub.ErrClosed (see Stop).
func (l *Live) Close() error {
	l.Stop(pubsub.ErrClosed)
	return nil
}

// Stop ends l with err and, when this call ended it, detaches it from its
// broker (the detach function given to NewLive).
func (l *Live) Stop(err error) {
	if l.End(err) {
		l.detach()
	}
}

// Watch stops l with ctx's error when ctx is done (see pubsub.Feed.Watch,
// which it shadows). Call it at most once.
func (l *Live) Watch(ctx context.Context) { l.Feed.Watch(ctx, l.Stop) }

// OfferOnce offers m to l (see pubsub.Feed.Offer) and reports whether l
// overflowed and ended. The Table offers a message once per matching
// filter, one after the other: only the first offer of the same message
// counts.
func (l *Live) OfferOnce(m *pubsub.Message) (overflowed bool) {
	if l.offered == m {
		return false
	}
	l.offered = m
	return l.Offer(m)
}
