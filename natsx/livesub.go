package natsx

import (
	"github.com/switchboard-go/switchboard/internal/fanout"
	"github.com/switchboard-go/switchboard/pubsub"
)

// liveSub is a plain subscription on one or more filters served from the
// node's core NATS subscriptions, delivering through its Feed: no
// goroutine of its own, a bounded channel filled by the node consumer,
// each message once and in queue (or stream) order whatever filter it
// matches. Resuming from a cursor adds a replay goroutine (see
// Broker.replay) that owns the channel until it has caught up; live
// messages are held back meanwhile.
//
// fanout.Live carries the Feed, filters, gap and the de-duplication of
// offers: only the node consumer (the one caller of the fan-out's
// Deliver) calls OfferOnce. Stop (Close, a done context) releases its
// subjects (Broker.detach).
type liveSub struct {
	*fanout.Live
	b        *Broker
	subjects []string // live subjects, one reference each
}

var _ pubsub.Subscription = (*liveSub)(nil)

func newLiveSub(b *Broker, fs []pubsub.Filter, subjects []string, o pubsub.SubscribeOptions) *liveSub {
	s := &liveSub{b: b, subjects: subjects}
	s.Live = fanout.NewLive(fs, o, func() { b.detach(s) })
	return s
}
