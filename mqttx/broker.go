package mqttx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/switchboard-go/switchboard/internal/backoff"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Broker is a pubsub.Broker over an external MQTT 5 server (Mosquitto,
// EMQX, HiveMQ, …), for scale-out across processes and for fleets that
// already speak MQTT. Create it with Dial. It is safe for concurrent use.
//
// It keeps one MQTT connection with a persistent session and reconnects
// automatically; subscriptions sharing a filter share one MQTT
// subscription. See the package documentation for the mapping of messages.
type Broker struct {
	opts       Options
	cm         *autopaho.ConnectionManager
	pubQoS     byte
	subQoS     byte
	log        *slog.Logger
	ctx        context.Context // cancelled by Close
	cancel     context.CancelFunc
	wg         sync.WaitGroup // background unsubscribes
	closeOnce  sync.Once
	opsMu      sync.Mutex // orders SUBSCRIBE and UNSUBSCRIBE
	mu         sync.Mutex
	closed     bool
	up         bool // connection is up
	everUp     bool
	serverCaps paho.ConnackProperties
	firstUp    chan struct{}     // closed by the first onUp
	entries    map[string]*entry // by MQTT filter ("$share/g/f" or "f")
	byID       map[int]subRef    // by subscription identifier
	seq        uint64            // counts SUBSCRIBEs; never wraps
	dedup      *pubsub.Dedup     // IDs published and delivered; nil when off
}

var _ pubsub.Broker = (*Broker)(nil)

// subRef is what a subscription identifier stands for: an entry, and the
// SUBSCRIBE (numbered by seq) that set it.
type subRef struct {
	e   *entry
	seq uint64
}

// entry is one MQTT subscription shared by local subscriptions.
type entry struct {
	mqttFilter string
	filter     pubsub.Filter
	group      string
	ids        []int // subscription identifiers used for this filter
	subs       []*subscription
	next       int // round robin among group members
}

// Dial connects to the MQTT 5 server at serverURL (mqtt://host:1883,
// mqtts://, ws:// or wss://; a user and password may be in the URL) and
// returns once the first connection is up, or fails when ctx is done
// first. opts may be nil; Dial copies it.
func Dial(ctx context.Context, serverURL string, opts *Options) (*Broker, error) {
	o := opts.withDefaults()
	u, err := parseServerURL(serverURL, &o)
	if err != nil {
		return nil, err
	}
	b := newBroker(o)
	cm, err := autopaho.NewConnection(b.ctx, b.clientConfig(u))
	if err != nil {
		b.cancel()
		return nil, fmt.Errorf("mqttx: %w", err)
	}
	b.cm = cm
	if err := b.awaitFirst(ctx); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("mqttx: failed to connect to %s: %w", u.Redacted(), err)
	}
	return b, nil
}

// parseServerURL checks serverURL's scheme and moves a user and password
// found in it to o, where o has none.
func parseServerURL(serverURL string, o *Options) (*url.URL, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("mqttx: bad server URL: %w", err)
	}
	switch u.Scheme {
	case "mqtt", "tcp", "mqtts", "ssl", "tls", "ws", "wss":
	default:
		return nil, fmt.Errorf("mqttx: unsupported URL scheme %q (want mqtt, mqtts, ws or wss)", u.Scheme)
	}
	if u.User != nil && o.Username == "" {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	u.User = nil
	return u, nil
}

// newBroker returns a Broker, not yet connected, for o (with defaults).
func newBroker(o Options) *Broker {
	b := &Broker{
		opts:    o,
		pubQoS:  qosOption(o.PublishQoS),
		subQoS:  qosOption(o.SubscribeQoS),
		log:     o.Logger,
		entries: make(map[string]*entry),
		byID:    make(map[int]subRef),
		dedup:   pubsub.NewDedup(o.DedupWindow, o.DedupSize, nil),
		firstUp: make(chan struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// clientConfig is the autopaho configuration of b's connection to u.
func (b *Broker) clientConfig(u *url.URL) autopaho.ClientConfig {
	o := &b.opts
	bo := backoff.Backoff{Min: o.MinBackoff, Max: o.MaxBackoff}
	return autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        o.TLS,
		KeepAlive:                     uint16(min(o.KeepAlive/time.Second, 65535)),
		CleanStartOnInitialConnection: !o.ResumeSession,
		SessionExpiryInterval:         uint32(o.SessionExpiry / time.Second),
		ConnectTimeout:                o.ConnectTimeout,
		ReconnectBackoff:              bo.Delay,
		ConnectUsername:               o.Username,
		ConnectPassword:               []byte(o.Password),
		OnConnectionUp:                b.onUp,
		OnConnectionDown:              b.onDown,
		OnConnectError: func(err error) {
			b.log.Debug("mqttx: connect attempt failed", "err", err)
		},
		DisconnectPacketBuilder: func() *paho.Disconnect {
			zero := uint32(0) // a closed Broker leaves no session behind
			return &paho.Disconnect{ReasonCode: 0, Properties: &paho.DisconnectProperties{SessionExpiryInterval: &zero}}
		},
		ClientConfig: paho.ClientConfig{
			ClientID:          o.ClientID,
			PacketTimeout:     o.PacketTimeout,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){b.route},
			OnClientError: func(err error) {
				b.log.Debug("mqttx: client error", "err", err)
			},
			OnServerDisconnect: func(d *paho.Disconnect) {
				b.log.Info("mqttx: server disconnected", "reason_code", d.ReasonCode)
			},
		},
	}
}

// awaitFirst waits for the first connection, and for onUp to have
// recorded the server's capabilities.
func (b *Broker) awaitFirst(ctx context.Context) error {
	if err := b.cm.AwaitConnection(ctx); err != nil {
		return err
	}
	select {
	case <-b.firstUp:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// onUp runs on every (re)connection. When the server lost the session,
// every subscription ends with ErrSessionLost: messages may be missing.
func (b *Broker) onUp(_ *autopaho.ConnectionManager, ack *paho.Connack) {
	b.mu.Lock()
	b.up = true
	first := !b.everUp
	b.everUp = true
	if ack.Properties != nil {
		b.serverCaps = *ack.Properties
	}
	var lost []*subscription
	if !ack.SessionPresent && !first {
		for _, e := range b.entries {
			lost = append(lost, e.subs...)
		}
	}
	b.mu.Unlock()
	if first {
		close(b.firstUp)
	}
	b.log.Info("mqttx: connected", "client_id", b.opts.ClientID, "session_present", ack.SessionPresent)
	for _, s := range lost {
		s.end(ErrSessionLost)
	}
}

func (b *Broker) onDown() bool {
	b.mu.Lock()
	b.up = false
	closed := b.closed
	b.mu.Unlock()
	b.log.Info("mqttx: connection lost", "client_id", b.opts.ClientID)
	return !closed
}

// Capabilities reports Groups (as MQTT shared subscriptions, when the
// server offers them) and Retain; MQTT keeps no history and has no
// negative acknowledgement.
func (b *Broker) Capabilities() pubsub.Capabilities {
	b.mu.Lock()
	defer b.mu.Unlock()
	return pubsub.Capabilities{Groups: b.serverCaps.SharedSubAvailable, Retain: b.serverCaps.RetainAvailable}
}

// awaitUp fails with pubsub.ErrClosed after Close, and with
// WaitForConnection waits until the connection is up.
func (b *Broker) awaitUp(ctx context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	switch {
	case closed || b.ctx.Err() != nil:
		return pubsub.ErrClosed
	case !b.opts.WaitForConnection:
		return nil // the call fails with ConnectionDownError if it is down
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	if err := b.cm.AwaitConnection(ctx); err != nil {
		if b.ctx.Err() != nil {
			return pubsub.ErrClosed
		}
		return err
	}
	return nil
}

// Publish sends msg with the QoS of its HeaderQoS or Options.PublishQoS
// and returns when the server acknowledged it (PUBACK for QoS 1, PUBCOMP
// for QoS 2, the write for QoS 0). A message without an ID gets one. It
// fails with pubsub.ErrInvalidTopic, ErrDisconnected (the connection is
// down or failed under the publish; it matches transport.ErrUnavailable),
// a *ReasonCodeError (ErrRefused), the context's error or pubsub.ErrClosed. When it fails at
// QoS 1 or 2 the message may still be delivered (it stays in the session).
func (b *Broker) Publish(ctx context.Context, msg pubsub.Message) (pubsub.Receipt, error) {
	if err := pubsub.ValidateTopic(msg.Topic); err != nil {
		return pubsub.Receipt{}, err
	}
	if err := ctx.Err(); err != nil {
		return pubsub.Receipt{}, err
	}
	if msg.ID == "" {
		msg.ID = pubsub.NewID()
		return b.publish(ctx, msg)
	}
	r, dup, end, err := b.dedup.Begin(ctx, msg.Topic, msg.ID)
	if err != nil || dup {
		return r, err
	}
	r, err = b.publish(ctx, msg)
	end(r, err)
	return r, err
}

// publish sends msg (with its ID) and waits for the server's answer.
func (b *Broker) publish(ctx context.Context, msg pubsub.Message) (pubsub.Receipt, error) {
	msg.Time = time.Now()
	msg.Cursor = ""
	w := toWire(&msg)
	pk := &paho.Publish{
		Topic:      msg.Topic,
		QoS:        qosOf(msg.Header, b.pubQoS),
		Retain:     msg.Retain,
		Payload:    msg.Data,
		Properties: pahoProps(w),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel) // Close unblocks waiting publishes
	defer stop()
	for attempt := 0; ; attempt++ {
		if err := b.awaitUp(ctx); err != nil {
			return pubsub.Receipt{}, err
		}
		res, err := b.cm.Publish(ctx, pk)
		if res != nil && res.ReasonCode >= 0x80 { // paho also returns an error for a refusing PUBACK
			rc := &ReasonCodeError{Op: "publish", Topic: msg.Topic, Code: res.ReasonCode}
			if res.Properties != nil {
				rc.Reason = res.Properties.ReasonString
			}
			return pubsub.Receipt{}, rc
		}
		down := errors.Is(err, autopaho.ConnectionDownError)
		if down && b.opts.WaitForConnection && attempt < 3 {
			continue // the connection dropped between awaitUp and Publish
		}
		switch {
		case err == nil:
			return pubsub.Receipt{ID: msg.ID, Time: msg.Time}, nil
		case b.ctx.Err() != nil:
			return pubsub.Receipt{}, pubsub.ErrClosed
		case down:
			return pubsub.Receipt{}, ErrDisconnected
		case ctx.Err() != nil:
			return pubsub.Receipt{}, ctx.Err()
		case errors.Is(err, paho.ErrInvalidArguments):
			return pubsub.Receipt{}, fmt.Errorf("mqttx: failed to publish to %q: %w", msg.Topic, err)
		}
		// The connection failed under the publish: a failed write, no
		// connection in the session, a lost connection, no acknowledgement
		// within PacketTimeout (the cause is quoted, not wrapped: a paho
		// timeout is the server's unavailability, not the caller's).
		return pubsub.Receipt{}, fmt.Errorf("%w: publish to %q failed: %v", ErrDisconnected, msg.Topic, err)
	}
}

func pahoProps(w wire) *paho.PublishProperties {
	p := &paho.PublishProperties{
		ResponseTopic:   w.responseTopic,
		CorrelationData: w.correlation,
		ContentType:     w.contentType,
	}
	if w.hasExpiry {
		e := w.expiry
		p.MessageExpiry = &e
	}
	if len(w.user) > 0 {
		p.User = make(paho.UserProperties, len(w.user))
		for i, kv := range w.user {
			p.User[i] = paho.UserProperty{Key: kv[0], Value: kv[1]}
		}
	}
	return p
}

// route runs on paho's receive goroutine for every PUBLISH; it must not
// block. The PUBACK goes out after it returns, so a QoS 1 message is
// acknowledged once it is in every target subscription's buffer.
func (b *Broker) route(pr paho.PublishReceived) (bool, error) {
	pk := pr.Packet
	var w wire
	subID := 0
	if p := pk.Properties; p != nil {
		w.responseTopic, w.correlation, w.contentType = p.ResponseTopic, p.CorrelationData, p.ContentType
		if p.MessageExpiry != nil {
			w.expiry, w.hasExpiry = *p.MessageExpiry, true
		}
		if len(p.User) > 0 {
			w.user = make([][2]string, len(p.User))
			for i, u := range p.User {
				w.user[i] = [2]string{u.Key, u.Value}
			}
		}
		if p.SubscriptionIdentifier != nil {
			subID = *p.SubscriptionIdentifier
		}
	}
	m := fromWire(pk.Topic, pk.Payload, pk.Retain, w, time.Now())

	var targets []*subscription
	b.mu.Lock()
	if ref, ok := b.byID[subID]; ok {
		if b.first(ref.e, m) {
			targets = ref.e.pick(targets, m, ref.seq)
		}
	} else if !m.Retain {
		// No identifier (the server does not support them) or one too old
		// to remember: route by filter to the plain subscriptions.
		for _, e := range b.entries {
			if e.group == "" && e.filter.Match(m.Topic) && b.first(e, m) {
				targets = e.pick(targets, m, 0)
			}
		}
	}
	b.mu.Unlock()
	for _, s := range targets {
		s.deliver(m)
	}
	return true, nil
}

// first reports whether m is the first copy of its ID the server sent for
// e's subscription within the dedup window (a retained message is state,
// and always is); a copy is logged and dropped.
func (b *Broker) first(e *entry, m *pubsub.Message) bool {
	if m.Retain || b.dedup.DeliverTo(e.mqttFilter, m) {
		return true
	}
	b.log.Debug("mqttx: dropped a copy of a message delivered before", "topic", m.Topic, "id", m.ID, "filter", e.mqttFilter)
	return false
}

// pick appends the local subscriptions that get m, which the server routed
// under the SUBSCRIBE numbered seq (0: unknown). A subscription that joined
// with a later SUBSCRIBE did not exist yet for the server; a retained
// message goes only to the subscription whose SUBSCRIBE caused it; a group
// message to one member (round robin).
func (e *entry) pick(dst []*subscription, m *pubsub.Message, seq uint64) []*subscription {
	if len(e.subs) == 0 {
		return dst
	}
	if e.group != "" {
		for range len(e.subs) {
			e.next = (e.next + 1) % len(e.subs)
			if s := e.subs[e.next]; seq == 0 || s.joinSeq <= seq {
				return append(dst, s)
			}
		}
		return dst
	}
	for _, s := range e.subs {
		switch {
		case seq != 0 && s.joinSeq > seq:
		case m.Retain && (s.noRetained || seq != 0 && s.joinSeq != seq):
		default:
			dst = append(dst, s)
		}
	}
	return dst
}

// Close ends every subscription with pubsub.ErrClosed, disconnects (ending
// the session on the server), and waits for the connection's goroutines.
// It is idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		// cancel the client's context first: waiting publishes and
		// subscribes return, and autopaho disconnects (DisconnectPacketBuilder
		// ends the session on the server).
		b.cancel()
		b.mu.Lock()
		var all []*subscription
		for _, e := range b.entries {
			all = append(all, e.subs...)
		}
		b.mu.Unlock()
		for _, s := range all {
			s.end(pubsub.ErrClosed)
		}
		b.wg.Wait()
		if b.cm != nil {
			<-b.cm.Done()
		}
	})
	return nil
}
