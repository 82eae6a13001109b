package mqttx

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

var (
	codeServerShuttingDown = packets.ErrServerShuttingDown
	codeQuotaExceeded      = packets.ErrQuotaExceeded
)

// voidPrefix is put in front of every filter mochi sees, so mochi's own
// topic tree never matches a real topic: all routing goes through the
// pubsub.Broker, and mochi only speaks the protocol.
const voidPrefix = "$sb-void/"

// invalidFilter makes mochi refuse a subscription (0x8F); the SUBACK is
// then rewritten with the real reason code.
const invalidFilter = "#/#"

// hook adapts mochi's callbacks to the Server.
type hook struct {
	mqtt.HookBase
	s *Server
}

func (h *hook) ID() string { return "switchboard" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished,
		mqtt.OnDisconnect, mqtt.OnPacketRead, mqtt.OnPacketEncode, mqtt.OnSubscribe,
		mqtt.OnUnsubscribe, mqtt.OnPublish, mqtt.OnQosComplete, mqtt.OnQosDropped, mqtt.OnWill,
	}, []byte{b})
}

// OnConnect authenticates the client. A refusal gets CONNACK 0x86 (bad
// user name or password) for transport.ErrUnauthenticated and 0x87 (not
// authorized) for transport.ErrForbidden; MQTT 3.1.1 clients get 0x04 and
// 0x05.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	s := h.s
	creds := transport.Credentials{
		Transport:  "mqtt",
		Username:   string(pk.Connect.Username),
		Password:   string(pk.Connect.Password),
		RemoteAddr: cl.Net.Remote,
	}
	cc := connOf(cl)
	if cc == nil { // every connection comes through serveConn
		return packets.ErrServerUnavailable
	}
	if wc, ok := cc.batchConn.Conn.(*wsConn); ok {
		creds.Header = wc.header
		creds.RemoteAddr = wc.remote
		creds.Token = wc.token
	}
	// The connection's context: Authenticate gets it, and it ends with
	// the session (or now, when the client is refused), so a hook can
	// hold something for as long as the connection lasts.
	ctx, cancel := context.WithCancel(s.ctx)
	var id *transport.Identity
	if a := s.opts.Auth; a != nil && a.Authenticate != nil {
		var err error
		id, err = a.Authenticate(ctx, creds)
		if err != nil {
			cancel()
			code := packets.ErrBadUsernameOrPassword
			switch {
			case errors.Is(err, transport.ErrForbidden):
				code = packets.ErrNotAuthorized
			case errors.Is(err, transport.ErrLimit), errors.Is(err, pubsub.ErrLimit):
				code = packets.ErrQuotaExceeded
			}
			s.log.Debug("mqttx: connection refused", "remote", creds.RemoteAddr, "err", err)
			s.refuseConnect(cl, code)
			return code
		}
	}
	// A client that reconnects right after its connection closed may beat
	// mochi's cleanup of the old one (mochi closes the network connection
	// before it marks the client closed): drop it, so the new connection
	// does not inherit (Session Present 1) what already ended. A live old
	// connection is taken over by mochi as usual.
	if old, ok := s.mochi.Clients.Get(cl.ID); ok && old != cl && (old.Closed() || connClosed(old)) {
		old.ClearInflights()
		s.mochi.UnsubscribeClient(old)
		s.mochi.Clients.Delete(old.ID)
	}
	ss := newSession(ctx, cancel, s, cl, id)
	if !cc.accept(ss) { // the server is shutting down
		cancel()
		s.refuseConnect(cl, packets.ErrServerUnavailable)
		return packets.ErrServerUnavailable
	}
	s.sessions.Store(cl, ss)
	return nil
}

// connClosed reports whether a client's network connection was closed.
func connClosed(cl *mqtt.Client) bool {
	cc := connOf(cl)
	return cc != nil && cc.closed.Load()
}

// refuseConnect sends a refusing CONNACK. MQTT 3.1.1 gets its own return
// codes (mochi sends 0x87 to 3.1.1 clients, which is no 3.1.1 code).
func (s *Server) refuseConnect(cl *mqtt.Client, code packets.Code) {
	if cl.Properties.ProtocolVersion >= 5 {
		_ = s.mochi.SendConnack(cl, code, false, nil)
		return
	}
	v3 := map[byte]byte{
		packets.ErrBadUsernameOrPassword.Code: 0x04,
		packets.ErrNotAuthorized.Code:         0x05,
		packets.ErrServerUnavailable.Code:     0x03,
		packets.ErrQuotaExceeded.Code:         0x03, // 3.1.1 has no quota code
	}[code.Code]
	_ = cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: v3})
}

// OnConnectAuthenticate accepts what OnConnect accepted.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	return h.s.session(cl) != nil
}

// OnACLCheck authorizes a PUBLISH (write) with transport.ActionPublish.
// Subscriptions are authorized in OnSubscribe; mochi's own deliveries only
// concern the void topics, which nothing matches.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if !write {
		return true
	}
	ss := h.s.session(cl)
	if ss == nil {
		return false
	}
	ss.limited.Store(nil) // one left by a packet mochi dropped after the check
	err := h.s.opts.Auth.Check(ss.ctx, ss.id, transport.ActionPublish, topic)
	ss.refused = false
	if err == nil {
		return true
	}
	if errors.Is(err, transport.ErrLimit) || errors.Is(err, pubsub.ErrLimit) {
		h.s.log.Debug("mqttx: publish refused", "client", cl.ID, "topic", clip.String(topic), "err", err)
		ss.limited.Store(&err) // refused by OnPublish with 0x97
		return true
	}
	ss.refused = cl.Properties.ProtocolVersion < 5
	ss.refusals++
	lvl := slog.LevelDebug
	if ss.refusals == 1 {
		lvl = slog.LevelInfo // once per connection: a device that keeps trying does not flood the log
	}
	h.s.log.Log(ss.ctx, lvl, "mqttx: publish refused", "client", cl.ID, "topic", clip.String(topic),
		"version", cl.Properties.ProtocolVersion, "refusals", ss.refusals, "err", err)
	// MQTT 3.1.1 has no reason code in PUBACK: the server must either
	// acknowledge a publish it does not authorize or close the connection
	// [MQTT-3.3.5-2]. Closing sends a QoS 1 client into a reconnect loop
	// (it publishes the same message again after every reconnect), so the
	// publish goes on to OnPublish, which acknowledges and drops it.
	return ss.refused
}

// OnSessionEstablish runs before mochi hands a live session with the same
// client id (and no clean start) to the new connection: the new session
// starts the old one's broker subscriptions now, before its CONNACK says
// Session Present 1, so nothing published during the takeover is missed
// (it may come twice).
func (h *hook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	ss := h.s.session(cl)
	old, ok := h.s.mochi.Clients.Get(cl.ID)
	if ss == nil || !ok || old == cl || pk.Connect.Clean || (old.Properties.Clean && old.Properties.ProtocolVersion < 5) {
		return
	}
	for filter, sub := range old.State.Subscriptions.GetAll() {
		if orig, ok := strings.CutPrefix(filter, voidPrefix); ok {
			sub.Filter = orig
			_ = ss.subscribe(sub, true)
		}
	}
}

// OnSessionEstablished starts the broker subscriptions a client inherited
// by taking over a session that OnSessionEstablish did not start.
func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	ss := h.s.session(cl)
	if ss == nil {
		return
	}
	for filter, sub := range cl.State.Subscriptions.GetAll() {
		orig, ok := strings.CutPrefix(filter, voidPrefix)
		if !ok || ss.has(orig) {
			continue
		}
		sub.Filter = orig
		if code := ss.subscribe(sub, true); code != 0 {
			cl.State.Subscriptions.Delete(filter)
			_ = h.s.mochi.Topics.Unsubscribe(filter, cl.ID)
		}
	}
}

// OnDisconnect ends the session: the broker subscriptions stop and, even
// for a client that asked for a persistent session, nothing is kept (the
// CONNACK told it the session expiry is 0), so a reconnecting client sees
// Session Present 0 and subscribes again.
func (h *hook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	s := h.s
	var ss *session
	if v, ok := s.sessions.LoadAndDelete(cl); ok {
		ss = v.(*session)
	}
	if ss != nil {
		ss.end()
	}
	if !expire && !cl.IsTakenOver() {
		cl.ClearInflights()
		s.mochi.UnsubscribeClient(cl)
		if cur, ok := s.mochi.Clients.Get(cl.ID); ok && cur == cl {
			s.mochi.Clients.Delete(cl.ID)
		}
	}
}

// OnPacketRead rejects PUBLISH packets whose topic the broker would refuse
// before mochi drops them silently: MQTT 5 clients get PUBACK/PUBREC 0x90
// (or 0x87 for $SYS), MQTT 3.1.1 clients at QoS 1 and 2 are disconnected
// (they have no reason codes). Oversized payloads get 0x95 the same way.
// At QoS 0, which has no acknowledgement, an invalid topic or an oversized
// payload ends the connection as the spec asks (MQTT 5: DISCONNECT 0x90 or
// 0x95; MQTT 3.1.1: the connection closes); a QoS 0 publish to $SYS is
// dropped.
func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	if pk.TopicName == "" && pk.Properties.TopicAlias > 0 {
		// Resolved here, not only by mochi: mochi runs OnACLCheck before
		// it resolves the alias, so Auth would judge the empty topic name.
		pk.TopicName = cl.State.TopicAliases.Inbound.Set(pk.Properties.TopicAlias, "")
		if pk.TopicName == "" {
			return pk, nil // an unknown alias: mochi refuses it
		}
	}
	code := packets.CodeSuccess
	switch {
	case pubsub.ValidateTopic(pk.TopicName) != nil:
		code = packets.ErrTopicNameInvalid
	case len(pk.TopicName) >= 4 && strings.EqualFold(pk.TopicName[:4], "$SYS"):
		code = packets.ErrNotAuthorized
	case h.s.limits.MaxMessageBytes > 0 && int64(len(pk.Payload)) > h.s.limits.MaxMessageBytes:
		code = packets.ErrPacketTooLarge
	default:
		return pk, nil
	}
	h.s.log.Debug("mqttx: publish rejected", "client", cl.ID, "topic", pk.TopicName, "code", code.Code)
	if err := h.s.refusePublish(cl, pk, code); err != nil {
		return pk, err
	}
	pk.TopicName = "$SYS/rejected" // mochi drops it without an answer
	pk.FixedHeader.Qos, pk.PacketID = 0, 0
	return pk, nil
}

// refusePublish answers a refused PUBLISH: an MQTT 5 ack with the reason
// code at QoS 1 and 2, a disconnect for MQTT 3.1.1 at QoS 1 and 2 (the
// returned error ends the connection). At QoS 0 an invalid topic name
// (0x90) or a packet too large (0x95) ends the connection (DISCONNECT with
// the code for MQTT 5); other refusals are dropped, as QoS 0 allows.
func (s *Server) refusePublish(cl *mqtt.Client, pk packets.Packet, code packets.Code) error {
	if pk.FixedHeader.Qos == 0 {
		if code.Code != packets.ErrTopicNameInvalid.Code && code.Code != packets.ErrPacketTooLarge.Code {
			return nil
		}
		s.disconnectClient(cl, code)
		return code
	}
	if cl.Properties.ProtocolVersion < 5 {
		cl.Stop(code)
		return code
	}
	ack := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Puback},
		PacketID:    pk.PacketID,
		ReasonCode:  code.Code,
		Properties:  packets.Properties{ReasonString: code.Reason},
	}
	if pk.FixedHeader.Qos == 2 {
		ack.FixedHeader.Type = packets.Pubrec
	}
	return cl.WritePacket(ack)
}

// disconnectClient ends cl's connection for a protocol error: MQTT 5
// clients first get DISCONNECT with code, written at once; MQTT 3.1.1 has
// no server DISCONNECT, so the connection just closes.
func (s *Server) disconnectClient(cl *mqtt.Client, code packets.Code) {
	if cc := connOf(cl); cc != nil {
		cc.unbatch()
	}
	if cl.Properties.ProtocolVersion >= 5 {
		_ = s.mochi.DisconnectClient(cl, code)
	}
	cl.Stop(code)
}

// OnPacketEncode puts the real reason codes into a SUBACK, and fixes
// mochi's successful PUBACK, which carries 0x01 (a SUBACK code) instead of
// 0x00.
func (h *hook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Puback && pk.ReasonCode == packets.CodeGrantedQos1.Code {
		pk.ReasonCode = packets.CodeSuccess.Code
		return pk
	}
	if pk.FixedHeader.Type != packets.Suback {
		return pk
	}
	if ss := h.s.session(cl); ss != nil {
		if codes := ss.takeSuback(pk.PacketID); codes != nil {
			rc := append([]byte(nil), pk.ReasonCodes...)
			for i, c := range codes {
				if c != 0 && i < len(rc) {
					if cl.Properties.ProtocolVersion < 5 {
						c = 0x80
					}
					rc[i] = c
				}
			}
			pk.ReasonCodes = rc
		}
	}
	return pk
}

// OnSubscribe validates, authorizes and starts a broker subscription for
// each filter, and hides the filter from mochi's topic tree.
func (h *hook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	ss := h.s.session(cl)
	codes := make([]byte, len(pk.Filters))
	refused := false
	filters := make(packets.Subscriptions, len(pk.Filters))
	for i, sub := range pk.Filters {
		if len(pk.Properties.SubscriptionIdentifier) > 0 {
			sub.Identifier = pk.Properties.SubscriptionIdentifier[0]
		}
		code := byte(packets.ErrUnspecifiedError.Code)
		if ss != nil {
			code = ss.subscribe(sub, false)
		}
		if code != 0 {
			codes[i], refused = code, true
			sub.Filter = invalidFilter
		} else {
			sub.Filter = voidPrefix + sub.Filter
		}
		filters[i] = sub
	}
	pk.Filters = filters
	if refused && ss != nil {
		ss.setSuback(pk.PacketID, codes)
	}
	return pk
}

// OnUnsubscribe stops the broker subscriptions.
func (h *hook) OnUnsubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	ss := h.s.session(cl)
	filters := make(packets.Subscriptions, len(pk.Filters))
	for i, sub := range pk.Filters {
		if ss != nil {
			ss.unsubscribe(sub.Filter)
		}
		sub.Filter = voidPrefix + sub.Filter
		filters[i] = sub
	}
	pk.Filters = filters
	return pk
}

// OnPublish hands a device's PUBLISH to the broker. mochi sends PUBACK or
// PUBREC after it returns, so QoS 1 and 2 are acknowledged only once the
// broker accepted the message; mochi's own routing and retained store are
// bypassed.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	s := h.s
	ss := s.session(cl)
	if ss == nil {
		return pk, packets.ErrRejectPacket
	}
	if lerr := ss.limited.Swap(nil); lerr != nil {
		s.log.Debug("mqttx: publish over a limit", "client", cl.ID, "topic", clip.String(pk.TopicName), "err", *lerr)
		_ = s.refusePublish(cl, pk, packets.ErrQuotaExceeded)
		return pk, packets.ErrRejectPacket
	}
	if ss.refused { // MQTT 3.1.1, refused by Auth: acknowledged, dropped
		ss.refused = false
		return pk, packets.CodeSuccessIgnore
	}
	m := fromWire(pk.TopicName, pk.Payload, pk.FixedHeader.Retain, mochiWire(pk.Properties), ss.now())
	if m.Header == nil {
		m.Header = make(map[string]string, 1)
	}
	m.Header[HeaderQoS] = strconv.Itoa(int(pk.FixedHeader.Qos))
	// A device's "sb-id" is its idempotency key (the broker answers a
	// repeat within its dedup window without delivering it again), except
	// in a session with a No Local subscription, whose own messages are
	// told apart by fresh IDs.
	err := transport.CheckKey(m.ID)
	if m.ID == "" || ss.noLocal.Load() > 0 {
		m.ID = pubsub.NewID()
	}
	if err == nil {
		ss.remember(m.ID)
		_, err = s.publish(ss.ctx, m)
	}
	if err == nil {
		return pk, packets.CodeSuccessIgnore
	}
	code := packets.ErrUnspecifiedError
	switch {
	case errors.Is(err, pubsub.ErrInvalidTopic):
		code = packets.ErrTopicNameInvalid
	case errors.Is(err, transport.ErrForbidden):
		code = packets.ErrNotAuthorized
	case errors.Is(err, transport.ErrTooLarge):
		code = packets.ErrPacketTooLarge
	case errors.Is(err, transport.ErrBadRequest): // an unusable "sb-id"
		code = packets.ErrImplementationSpecificError
	case errors.Is(err, transport.ErrLimit), errors.Is(err, pubsub.ErrLimit):
		code = packets.ErrQuotaExceeded
	}
	s.log.Debug("mqttx: broker refused a publish", "client", cl.ID, "topic", pk.TopicName, "err", err)
	if err := s.refusePublish(cl, pk, code); err != nil {
		return pk, packets.ErrRejectPacket
	}
	return pk, packets.ErrRejectPacket
}

// OnQosComplete and OnQosDropped free an in-flight slot.
func (h *hook) OnQosComplete(cl *mqtt.Client, _ packets.Packet) {
	if ss := h.s.session(cl); ss != nil {
		ss.signal()
	}
}

func (h *hook) OnQosDropped(cl *mqtt.Client, _ packets.Packet) {
	if ss := h.s.session(cl); ss != nil {
		ss.signal()
	}
}

// OnWill publishes a will into the broker (after an ACL check), at once:
// sessions end with the connection, so a will delay ends too. Wills are not
// published when the server itself shuts down. mochi is then handed an
// empty will, which reaches nobody.
func (h *hook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	s := h.s
	ss := s.session(cl)
	if ss == nil || s.ctx.Err() != nil {
		return mqtt.Will{}, nil
	}
	if err := pubsub.ValidateTopic(will.TopicName); err != nil {
		return mqtt.Will{}, nil
	}
	if err := s.opts.Auth.Check(s.ctx, ss.id, transport.ActionPublish, will.TopicName); err != nil {
		s.log.Debug("mqttx: will refused", "client", cl.ID, "topic", will.TopicName, "err", err)
		return mqtt.Will{}, nil
	}
	var w wire
	for _, u := range will.User {
		w.user = append(w.user, [2]string{u.Key, u.Val})
	}
	m := fromWire(will.TopicName, will.Payload, will.Retain, w, ss.now())
	if m.Header == nil {
		m.Header = make(map[string]string, 1)
	}
	m.Header[HeaderQoS] = strconv.Itoa(int(will.Qos))
	if _, err := s.publish(s.ctx, m); err != nil {
		s.log.Warn("mqttx: failed to publish a will", "client", cl.ID, "topic", will.TopicName, "err", err)
	}
	return mqtt.Will{}, nil
}

// publish hands m to the broker within PublishTimeout.
func (s *Server) publish(ctx context.Context, m *pubsub.Message) (pubsub.Receipt, error) {
	if d := s.opts.PublishTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return transport.PublishObserved(ctx, s.opts.Observer, transportName, s.broker, *m)
}

func mochiWire(p packets.Properties) wire {
	w := wire{
		responseTopic: p.ResponseTopic,
		correlation:   p.CorrelationData,
		contentType:   p.ContentType,
	}
	if p.MessageExpiryInterval > 0 {
		w.expiry, w.hasExpiry = p.MessageExpiryInterval, true
	}
	if len(p.User) > 0 {
		w.user = make([][2]string, len(p.User))
		for i, u := range p.User {
			w.user[i] = [2]string{u.Key, u.Val}
		}
	}
	return w
}
