package redisx

import (
	"sync/atomic"

	"github.com/switchboard-go/switchboard/internal/fanout"
	"github.com/switchboard-go/switchboard/pubsub"
)

// liveSub is a plain subscription on one or more filters served by the
// node reader, delivering through its Feed: no goroutine of its own, each
// message once and in stream order whatever filter it matches. Resuming
// from a cursor or starting with retained messages adds a replay goroutine
// that owns the channel until it has caught up; live messages are held
// back meanwhile.
//
// fanout.Live carries the Feed, filters, gap and the de-duplication of
// offers: only the node reader calls offer (and so OfferOnce). Stop
// (Close, a done context) detaches it from the fan-out.
type liveSub struct {
	*fanout.Live
	b *Broker

	// from is the newest entry when the subscription started: older
	// entries the node reader has yet to fan out are not delivered (the
	// replay, or the moment of the Subscribe call, covers them).
	from atomic.Uint64
}

var _ pubsub.Subscription = (*liveSub)(nil)

func newLiveSub(b *Broker, fs []pubsub.Filter, o pubsub.SubscribeOptions) *liveSub {
	s := &liveSub{b: b}
	s.Live = fanout.NewLive(fs, o, func() { b.fan.Remove(s) })
	return s
}

// offer offers entry seq, message m, to s and reports whether s
// overflowed and ended: entries up to from are skipped, and only the first
// offer of the same message counts (fanout.Live.OfferOnce).
func (s *liveSub) offer(m *pubsub.Message, seq uint64) (overflowed bool) {
	if seq <= s.from.Load() {
		return false
	}
	return s.OfferOnce(m)
}
