package mqttx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/switchboard-go/switchboard/pubsub"
)

// maxSubscriptionID is the largest MQTT 5 subscription identifier.
const maxSubscriptionID = 268435455

// keepIDs is how many recent subscription identifiers of one filter are
// routed precisely; a message carrying an older one is routed by filter.
const keepIDs = 64

// Subscribe subscribes to filter (MQTT syntax; a Group becomes the shared
// subscription "$share/<group>/<filter>") with Options.SubscribeQoS
// and returns once the server granted it (SUBACK). Retained messages come
// first, flagged Retain, unless opts.NoRetained. It fails with
// pubsub.ErrInvalidFilter, pubsub.ErrNotSupported (Since or ManualAck: MQTT
// keeps no history and cannot nack), ErrDisconnected, a *ReasonCodeError,
// or pubsub.ErrClosed.
func (b *Broker) Subscribe(ctx context.Context, filter string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	var o pubsub.SubscribeOptions
	if opts != nil {
		o = *opts
	}
	f, err := pubsub.ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	switch {
	case o.Since != "":
		return nil, fmt.Errorf("%w: mqttx.Broker keeps no history (SubscribeOptions.Since)", pubsub.ErrNotSupported)
	case o.ManualAck:
		return nil, fmt.Errorf("%w: mqttx.Broker has no manual acknowledgement", pubsub.ErrNotSupported)
	case o.Group != "" && (strings.ContainsAny(o.Group, "/+#") || strings.IndexByte(o.Group, 0) >= 0):
		return nil, fmt.Errorf("%w: group name %q must not contain '/', '+', '#' or NUL", pubsub.ErrInvalidFilter, o.Group)
	}
	if o.Group != "" && !b.Capabilities().Groups {
		return nil, fmt.Errorf("%w: the MQTT server has no shared subscriptions", pubsub.ErrNotSupported)
	}
	if o.Buffer <= 0 {
		o.Buffer = pubsub.DefaultBuffer
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := b.awaitUp(ctx); err != nil {
		return nil, err
	}
	mqttFilter := filter
	if o.Group != "" {
		mqttFilter = "$share/" + o.Group + "/" + filter
	}
	s := &subscription{
		Feed:       pubsub.NewFeed(o.Buffer, o.Overflow),
		b:          b,
		noRetained: o.NoRetained || o.Group != "",
	}

	// opsMu from before the identifier is numbered until the SUBACK: the
	// SUBSCRIBEs go out in the order of their identifiers, so the one the
	// server keeps for the filter is the newest, and every subscription
	// that joined up to it gets the messages that carry it. (Numbered under
	// mu alone, two concurrent SUBSCRIBEs could go out the other way round:
	// the server kept the older identifier and the newer subscription never
	// received anything.)
	b.opsMu.Lock()
	defer b.opsMu.Unlock()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, pubsub.ErrClosed
	}
	e := b.entries[mqttFilter]
	if e == nil {
		e = &entry{mqttFilter: mqttFilter, filter: f, group: o.Group}
		b.entries[mqttFilter] = e
	}
	b.seq++
	id := int((b.seq-1)%maxSubscriptionID) + 1
	e.ids = append(e.ids, id)
	b.byID[id] = subRef{e: e, seq: b.seq}
	if len(e.ids) > keepIDs { // bounded: only recent identifiers can still be in flight
		if old := e.ids[0]; b.byID[old].e == e {
			delete(b.byID, old)
		}
		e.ids = append(e.ids[:0], e.ids[1:]...)
	}
	s.e, s.joinSeq = e, b.seq
	e.subs = append(e.subs, s)
	b.mu.Unlock()

	if err := b.sendSubscribe(ctx, e, id, s.noRetained); err != nil {
		s.end(err)
		return nil, err
	}
	s.Watch(ctx, s.end)
	return s, nil
}

// sendSubscribe sends SUBSCRIBE for e with identifier id and waits for the
// SUBACK. The caller holds opsMu.
func (b *Broker) sendSubscribe(ctx context.Context, e *entry, id int, noRetained bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel) // Close unblocks a waiting subscribe
	defer stop()
	rh := byte(0)
	if noRetained {
		rh = 2
	}
	ack, err := b.cm.Subscribe(ctx, &paho.Subscribe{
		Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: &id},
		Subscriptions: []paho.SubscribeOptions{{Topic: e.mqttFilter, QoS: b.subQoS, RetainHandling: rh}},
	})
	switch {
	case err != nil && b.ctx.Err() != nil:
		return pubsub.ErrClosed
	case errors.Is(err, autopaho.ConnectionDownError):
		return ErrDisconnected
	case ack != nil && len(ack.Reasons) > 0 && ack.Reasons[0] >= 0x80:
		rc := &ReasonCodeError{Op: "subscribe", Topic: e.mqttFilter, Code: ack.Reasons[0]}
		if ack.Properties != nil {
			rc.Reason = ack.Properties.ReasonString
		}
		return rc
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return fmt.Errorf("mqttx: failed to subscribe to %q: %w", e.mqttFilter, err)
	}
	return nil
}

// release drops s from its entry; the last one out unsubscribes in the
// background (unless the broker is closing).
func (b *Broker) release(s *subscription) {
	b.mu.Lock()
	e := s.e
	if i := indexOf(e.subs, s); i >= 0 {
		e.subs = append(e.subs[:i], e.subs[i+1:]...)
	}
	empty := len(e.subs) == 0 && b.entries[e.mqttFilter] == e
	if empty && !b.closed {
		b.wg.Add(1)
		go b.unsubscribe(e)
	}
	b.mu.Unlock()
}

func indexOf(subs []*subscription, s *subscription) int {
	for i, x := range subs {
		if x == s {
			return i
		}
	}
	return -1
}

// unsubscribe removes e if it is still unused, then sends UNSUBSCRIBE;
// opsMu keeps a later SUBSCRIBE for the same filter after it.
func (b *Broker) unsubscribe(e *entry) {
	defer b.wg.Done()
	b.opsMu.Lock()
	defer b.opsMu.Unlock()
	b.mu.Lock()
	if len(e.subs) > 0 || b.entries[e.mqttFilter] != e {
		b.mu.Unlock()
		return
	}
	delete(b.entries, e.mqttFilter)
	for _, id := range e.ids {
		if b.byID[id].e == e {
			delete(b.byID, id)
		}
	}
	up := b.up && !b.closed
	b.mu.Unlock()
	if !up {
		return // the server drops it with the session, or on the next use
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := b.cm.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{e.mqttFilter}}); err != nil {
		b.log.Debug("mqttx: unsubscribe failed", "filter", e.mqttFilter, "err", err)
	}
}

// subscription is a local subscription fed by the router, delivering
// through its Feed.
type subscription struct {
	*pubsub.Feed
	b          *Broker
	e          *entry
	joinSeq    uint64 // the SUBSCRIBE that started it
	noRetained bool
}

var _ pubsub.Subscription = (*subscription)(nil)

// Gap is always false: mqttx.Broker does not resume from cursors. A lost
// MQTT session ends the subscription with ErrSessionLost instead.
func (s *subscription) Gap() bool { return false }

// Ack does nothing: MQTT acknowledges on receipt.
func (s *subscription) Ack(*pubsub.Message) error { return nil }

// Nack does nothing: MQTT has no negative acknowledgement.
func (s *subscription) Nack(*pubsub.Message, bool) error { return nil }

func (s *subscription) Close() error {
	s.end(pubsub.ErrClosed)
	return nil
}

// deliver puts m on the channel without blocking, applying the overflow
// policy (see pubsub.Feed.Offer).
func (s *subscription) deliver(m *pubsub.Message) {
	if s.Offer(m) {
		s.b.release(s)
	}
}

// end finishes the subscription with err; only the first call counts.
func (s *subscription) end(err error) {
	if s.End(err) {
		s.b.release(s)
	}
}
