package mqttx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// ownIDs is how many of its own message IDs a session remembers for
// NoLocal subscriptions.
const ownIDs = 1024

// session is one connected MQTT client: its identity and its broker
// subscriptions, one per MQTT subscription filter.
type session struct {
	s      *Server
	cl     *mqtt.Client
	id     *transport.Identity
	ctx    context.Context // ends with the connection
	cancel context.CancelFunc

	noLocal atomic.Int32 // NoLocal subscriptions in subs

	// refused is set by OnACLCheck for an MQTT 3.1.1 PUBLISH Auth refused
	// and read by OnPublish (the same client goroutine, in that order):
	// acknowledged and dropped. refusals counts them, so only the first is
	// logged at Info.
	refused  bool
	refusals int
	// limited is a limit error Authorize gave the PUBLISH being read:
	// OnACLCheck lets it through so that OnPublish, which mochi calls next
	// on the same goroutine, refuses it with 0x97 instead of 0x87.
	limited atomic.Pointer[error]

	wg sync.WaitGroup // forwarders and a go-away; waited for when the connection ends

	mu        sync.Mutex
	ended     bool                  // no goroutine is added to wg once set
	subs      map[string]*clientSub // by filter as the client wrote it
	subackID  uint16
	subackRCs []byte
	wait      chan struct{} // closed and replaced when an in-flight slot frees
	waiters   int
	own       map[string]struct{}
	ownRing   []string
	ownNext   int
}

// clientSub is one MQTT subscription fed by a broker subscription.
type clientSub struct {
	ctx    context.Context // ends when the subscription is replaced or removed
	sub    packets.Subscription
	bsub   pubsub.Subscription
	cancel context.CancelFunc
	filter string // the broker's filter (without $share/<group>/)
}

// transportName names the MQTT server to the Observer.
const transportName = "mqtt"

// observeEnd reports the end of cs's forwarder to the Observer.
func (ss *session) observeEnd(cs *clientSub) {
	obs := ss.s.opts.Observer
	if obs == nil {
		return
	}
	err := cs.bsub.Err()
	reason := transport.EndClient
	switch {
	case ss.s.ctx.Err() != nil: // Shutdown or Close started
		reason = transport.EndShutdown
	case errors.Is(err, pubsub.ErrSlowConsumer):
		reason = transport.EndSlowConsumer
	case errors.Is(err, pubsub.ErrClosed) && ss.ctx.Err() == nil && cs.ctx.Err() == nil:
		reason = transport.EndBroker
	}
	obs.OnSubEnded(transportName, reason, err, cs.filter)
}

// newSession returns the session of an authenticated client; ctx (ending
// with cancel, which end calls) is the connection's.
func newSession(ctx context.Context, cancel context.CancelFunc, s *Server, cl *mqtt.Client, id *transport.Identity) *session {
	return &session{s: s, cl: cl, id: id, subs: make(map[string]*clientSub),
		ctx: transport.WithIdentity(ctx, id), cancel: cancel}
}

func (s *Server) session(cl *mqtt.Client) *session {
	if v, ok := s.sessions.Load(cl); ok {
		return v.(*session)
	}
	return nil
}

func (ss *session) now() time.Time { return time.Now() }

// admit validates and authorizes one MQTT subscription: the filter
// (transport.ActionSubscribe) and, for "$share/<group>/<filter>", the group
// (transport.ActionJoin). It returns the group and the filter, or the
// reason code refusing them.
func (ss *session) admit(sub packets.Subscription) (group, filter string, code byte) {
	s := ss.s
	filter = sub.Filter
	if rest, ok := strings.CutPrefix(sub.Filter, "$share/"); ok {
		var found bool
		group, filter, found = strings.Cut(rest, "/")
		if !found || group == "" || strings.ContainsAny(group, "+#") {
			return "", "", packets.ErrTopicFilterInvalid.Code
		}
		if sub.NoLocal {
			return "", "", packets.ErrProtocolViolationInvalidSharedNoLocal.Code
		}
		if !s.broker.Capabilities().Groups {
			return "", "", packets.ErrSharedSubscriptionsNotSupported.Code
		}
	}
	if _, err := pubsub.ParseFilter(filter); err != nil {
		return "", "", packets.ErrTopicFilterInvalid.Code
	}
	if err := s.opts.Auth.Check(ss.ctx, ss.id, transport.ActionSubscribe, filter); err != nil {
		s.log.Debug("mqttx: subscribe refused", "client", ss.cl.ID, "filter", filter, "err", err)
		s.opts.Observer.OnSubRefused(transportName, err, filter)
		return "", "", refusalCode(err)
	}
	if group != "" {
		if err := s.opts.Auth.Check(ss.ctx, ss.id, transport.ActionJoin, group); err != nil {
			s.opts.Observer.OnSubRefused(transportName, err, filter)
			s.log.Debug("mqttx: joining a group refused", "client", ss.cl.ID, "group", group, "err", err)
			return "", "", refusalCode(err)
		}
	}
	return group, filter, 0
}

// refusalCode is the SUBACK reason code for a subscription Auth.Check
// refused: 0x97 (quota exceeded) for a limit, else 0x87 (not authorized).
func refusalCode(err error) byte {
	if errors.Is(err, transport.ErrLimit) || errors.Is(err, pubsub.ErrLimit) {
		return packets.ErrQuotaExceeded.Code
	}
	return packets.ErrNotAuthorized.Code
}

// subscribe starts the broker subscription for one MQTT subscription and
// returns 0, or the reason code refusing it.
func (ss *session) subscribe(sub packets.Subscription, inherited bool) byte {
	s := ss.s
	group, filter, code := ss.admit(sub)
	if code != 0 {
		return code
	}
	ss.mu.Lock()
	old := ss.subs[sub.Filter]
	if ss.ended {
		ss.mu.Unlock()
		return packets.ErrUnspecifiedError.Code
	}
	if old == nil && s.limits.MaxSubscriptions > 0 && len(ss.subs) >= s.limits.MaxSubscriptions {
		ss.mu.Unlock()
		s.opts.Observer.OnSubRefused(transportName, fmt.Errorf("%w: at most %d subscriptions per connection",
			transport.ErrLimit, s.limits.MaxSubscriptions), filter)
		return packets.ErrQuotaExceeded.Code
	}
	ss.mu.Unlock()

	noRetained := inherited || group != "" || sub.RetainHandling == 2 || (sub.RetainHandling == 1 && old != nil)
	ctx, cancel := context.WithCancel(ss.ctx)
	bsub, err := s.broker.Subscribe(ctx, filter, &pubsub.SubscribeOptions{
		Group:      group,
		Buffer:     s.opts.Buffer,
		NoRetained: noRetained,
	})
	if err != nil {
		cancel()
		s.log.Debug("mqttx: broker subscribe failed", "client", ss.cl.ID, "filter", sub.Filter, "err", err)
		switch {
		case errors.Is(err, pubsub.ErrInvalidFilter):
			return packets.ErrTopicFilterInvalid.Code
		case errors.Is(err, pubsub.ErrNotSupported):
			return packets.ErrSharedSubscriptionsNotSupported.Code
		case errors.Is(err, transport.ErrForbidden):
			return packets.ErrNotAuthorized.Code
		case errors.Is(err, transport.ErrLimit), errors.Is(err, pubsub.ErrLimit):
			return packets.ErrQuotaExceeded.Code
		}
		return packets.ErrUnspecifiedError.Code
	}
	cs := &clientSub{ctx: ctx, sub: sub, bsub: bsub, cancel: cancel, filter: filter}
	ss.mu.Lock()
	if ss.ended {
		ss.mu.Unlock()
		cancel()
		_ = bsub.Close()
		return packets.ErrUnspecifiedError.Code
	}
	old = ss.subs[sub.Filter] // a new SUBSCRIBE replaces the subscription
	ss.subs[sub.Filter] = cs
	if sub.NoLocal {
		ss.noLocal.Add(1)
	}
	if old != nil && old.sub.NoLocal {
		ss.noLocal.Add(-1)
	}
	s.opts.Observer.OnSubStarted(transportName, filter)
	ss.wg.Go(func() { ss.forward(cs) })
	ss.mu.Unlock()
	if old != nil {
		old.stop()
	}
	return 0
}

func (cs *clientSub) stop() {
	cs.cancel()
	_ = cs.bsub.Close()
}

// has reports whether the session has a subscription to filter.
func (ss *session) has(filter string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.subs[filter] != nil
}

// unsubscribe stops the broker subscription of filter, if any.
func (ss *session) unsubscribe(filter string) {
	ss.mu.Lock()
	cs := ss.subs[filter]
	delete(ss.subs, filter)
	if cs != nil && cs.sub.NoLocal {
		ss.noLocal.Add(-1)
	}
	ss.mu.Unlock()
	if cs != nil {
		cs.stop()
	}
}

// end stops every broker subscription; forwarders exit on their own.
func (ss *session) end() {
	ss.mu.Lock()
	if ss.ended {
		ss.mu.Unlock()
		return
	}
	ss.ended = true
	subs := ss.subs
	ss.subs = nil
	ss.mu.Unlock()
	ss.cancel()
	for _, cs := range subs {
		cs.stop()
	}
	ss.signal()
}

// goAway disconnects the client with 0x8B on a goroutine of the session
// (the write may take up to WriteTimeout); false when the session has
// already ended.
func (ss *session) goAway() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return false
	}
	ss.wg.Go(func() { ss.disconnect(codeServerShuttingDown) })
	return true
}

// disconnect sends DISCONNECT with code (MQTT 5) and closes the
// connection (MQTT 3.1.1 has no server DISCONNECT: the connection just
// closes).
func (ss *session) disconnect(code packets.Code) {
	if cc := connOf(ss.cl); cc != nil {
		cc.unbatch()
	}
	if ss.cl.Properties.ProtocolVersion >= 5 {
		_ = ss.s.mochi.DisconnectClient(ss.cl, code)
	}
	ss.cl.Stop(code)
}

func (ss *session) setSuback(id uint16, codes []byte) {
	ss.mu.Lock()
	ss.subackID, ss.subackRCs = id, codes
	ss.mu.Unlock()
}

func (ss *session) takeSuback(id uint16) []byte {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.subackRCs == nil || ss.subackID != id {
		return nil
	}
	c := ss.subackRCs
	ss.subackRCs = nil
	return c
}

// remember records a message ID the client published, for NoLocal.
func (ss *session) remember(id string) {
	if ss.noLocal.Load() == 0 {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.own == nil {
		ss.own = make(map[string]struct{}, ownIDs)
		ss.ownRing = make([]string, ownIDs)
	}
	if old := ss.ownRing[ss.ownNext]; old != "" {
		delete(ss.own, old)
	}
	ss.ownRing[ss.ownNext] = id
	ss.ownNext = (ss.ownNext + 1) % ownIDs
	ss.own[id] = struct{}{}
}

func (ss *session) isOwn(id string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	_, ok := ss.own[id]
	return ok
}

// signal wakes forwarders waiting for an in-flight slot.
func (ss *session) signal() {
	ss.mu.Lock()
	if ss.waiters > 0 {
		close(ss.wait)
		ss.wait, ss.waiters = nil, 0
	}
	ss.mu.Unlock()
}

// awaitSlot waits until fewer than limit QoS 1/2 deliveries are
// unacknowledged. It returns errStalled when the client acknowledged
// nothing for WriteTimeout, ctx's error when the subscription ended.
func (ss *session) awaitSlot(ctx context.Context, limit int) error {
	var timer *time.Timer
	var stalled <-chan time.Time // nil: WriteTimeout is off
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for ss.cl.State.Inflight.Len() >= limit {
		if timer == nil && ss.s.opts.WriteTimeout > 0 {
			timer = time.NewTimer(ss.s.opts.WriteTimeout)
			stalled = timer.C
		}
		ss.mu.Lock()
		if ss.ended {
			ss.mu.Unlock()
			return context.Canceled
		}
		if ss.wait == nil {
			ss.wait = make(chan struct{})
		}
		ch := ss.wait
		ss.waiters++
		ss.mu.Unlock()
		if ss.cl.State.Inflight.Len() < limit {
			return nil
		}
		select {
		case <-ch:
			if timer != nil {
				timer.Reset(ss.s.opts.WriteTimeout) // progress
			}
		case <-stalled:
			return errStalled
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// errStalled: a client left its in-flight deliveries unacknowledged for
// WriteTimeout.
var errStalled = errors.New("mqttx: client stopped acknowledging deliveries")

// forward writes the broker subscription's messages to the client until
// the subscription ends. A subscription that overflowed (the client is too
// slow) disconnects the client with 0x97 so it knows it missed messages;
// a broker that closed disconnects it with 0x8B.
func (ss *session) forward(cs *clientSub) {
	defer ss.observeEnd(cs)
	s := ss.s
	cl := ss.cl
	limit := s.opts.MaxInflight
	if rm := int(cl.Properties.Props.ReceiveMaximum); cl.Properties.ProtocolVersion == 5 && rm > 0 && rm < limit {
		limit = rm
	}
	var bc *batchConn
	if cc := connOf(cl); cc != nil {
		bc = cc.batchConn
	}
	for m := range cs.bsub.C() {
		// Write what is queued (up to maxBatch) with one system call.
		if bc != nil {
			bc.hold()
		}
		ok := ss.deliver(cs, m, bc, limit)
		for n := min(len(cs.bsub.C()), maxBatch); ok && n > 0; n-- {
			m, open := <-cs.bsub.C()
			if !open {
				break
			}
			ok = ss.deliver(cs, m, bc, limit)
		}
		if bc != nil {
			if err := bc.release(); err != nil {
				ok = false
				cl.Stop(err)
			}
		}
		if !ok {
			return
		}
	}
	err := cs.bsub.Err()
	switch {
	case errors.Is(err, pubsub.ErrSlowConsumer):
		s.log.Info("mqttx: client too slow, disconnecting", "client", cl.ID, "filter", cs.sub.Filter)
		ss.disconnect(codeQuotaExceeded)
	case errors.Is(err, pubsub.ErrClosed) && ss.ctx.Err() == nil:
		// The broker closed, unless an UNSUBSCRIBE or a new SUBSCRIBE for
		// the filter removed this subscription from the session.
		ss.mu.Lock()
		current := ss.subs[cs.sub.Filter] == cs
		ss.mu.Unlock()
		if current {
			ss.disconnect(codeServerShuttingDown)
		}
	}
}

// maxBatch caps the deliveries one forwarder writes per system call.
const maxBatch = 64

// deliver writes m to the client unless it is the client's own message on
// a NoLocal subscription, waiting for an in-flight slot at QoS 1 and 2.
// False ends the forwarder (the client is gone or was disconnected).
func (ss *session) deliver(cs *clientSub, m *pubsub.Message, bc *batchConn, limit int) bool {
	s, cl := ss.s, ss.cl
	if cs.sub.NoLocal && ss.isOwn(m.ID) {
		return true
	}
	qos := min(qosOf(m.Header, byte(s.opts.QoS)), cs.sub.Qos)
	if qos > 0 && cl.State.Inflight.Len() >= limit {
		if bc != nil {
			_ = bc.flush() // the client must see them to acknowledge
		}
		if err := ss.awaitSlot(cs.ctx, limit); err != nil {
			if errors.Is(err, errStalled) {
				s.log.Info("mqttx: client stopped acknowledging, disconnecting", "client", cl.ID)
				ss.disconnect(codeQuotaExceeded)
			}
			return false
		}
	}
	if err := ss.write(m, qos, cs.sub); err != nil {
		s.log.Debug("mqttx: delivery failed", "client", cl.ID, "topic", m.Topic, "err", err)
		if !errors.Is(err, packets.ErrPacketTooLarge) {
			cl.Stop(err)
			return false
		}
		return true
	}
	s.opts.Observer.OnDelivered(transportName, m, len(m.Data))
	return true
}

// write sends one PUBLISH; QoS 1 and 2 deliveries go into mochi's
// in-flight store first, so mochi completes the PUBACK / PUBREC / PUBREL /
// PUBCOMP flow.
func (ss *session) write(m *pubsub.Message, qos byte, sub packets.Subscription) error {
	cl := ss.cl
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: m.Retain},
		TopicName:   m.Topic,
		Payload:     m.Data,
		Created:     time.Now().Unix(),
	}
	if cl.Properties.ProtocolVersion == 5 {
		w := toWire(m)
		pk.Properties = packets.Properties{
			ResponseTopic:   w.responseTopic,
			CorrelationData: w.correlation,
			ContentType:     w.contentType,
		}
		if w.hasExpiry {
			pk.Properties.MessageExpiryInterval = w.expiry
		}
		if len(w.user) > 0 {
			pk.Properties.User = make([]packets.UserProperty, len(w.user))
			for i, kv := range w.user {
				pk.Properties.User[i] = packets.UserProperty{Key: kv[0], Val: kv[1]}
			}
		}
		if sub.Identifier > 0 {
			pk.Properties.SubscriptionIdentifier = []int{sub.Identifier}
		}
	}
	if qos > 0 {
		id, err := cl.NextPacketID()
		if err != nil {
			return err
		}
		pk.PacketID = uint16(id)
		cl.State.Inflight.Set(pk)
		cl.State.Inflight.DecreaseSendQuota()
	}
	err := cl.WritePacket(pk)
	if err != nil && qos > 0 {
		if cl.State.Inflight.Delete(pk.PacketID) {
			cl.State.Inflight.IncreaseSendQuota()
		}
	}
	return err
}
