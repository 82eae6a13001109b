package mqttx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/switchboard-go/switchboard/internal/opt"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// ErrServerClosed is returned by Server.Serve after Close or Shutdown.
var ErrServerClosed = errors.New("mqttx: server closed")

// ServerOptions configures NewServer. The zero value (or nil) is a good
// default.
type ServerOptions struct {
	// Auth authenticates CONNECT (Credentials.Transport "mqtt", Username,
	// Password, RemoteAddr, and Header for MQTT over WebSocket) and
	// authorizes every PUBLISH, SUBSCRIBE and will message. The zero value
	// allows everything.
	Auth *transport.Auth
	// Limits bounds the payload of one PUBLISH (MaxMessageBytes; beyond it
	// reason code 0x95), the subscriptions of one connection
	// (MaxSubscriptions; beyond it SUBACK 0x97) and the connected clients
	// (MaxConnections; beyond it CONNACK 0x89 "server busy", or 0x03 for
	// MQTT 3.1.1).
	Limits transport.Limits
	// QoS is the QoS of broker messages without HeaderQoS (published by
	// non-MQTT transports): 0 means 1, -1 means QoS 0, 1 and 2 as such. A
	// delivery never exceeds the subscription's granted QoS.
	QoS int
	// Buffer is the broker subscription buffer of each MQTT subscription;
	// 0 means pubsub.DefaultBuffer. A client that falls further behind is
	// disconnected with reason code 0x97 (quota exceeded), so it knows it
	// missed messages.
	Buffer int
	// MaxInflight caps unacknowledged QoS 1 and 2 deliveries to one client
	// (lowered to the client's Receive Maximum); 0 means 64.
	MaxInflight int
	// WriteTimeout bounds one write to a client; 0 means 10 s. A client
	// that does not read is disconnected.
	WriteTimeout time.Duration
	// PublishTimeout bounds Broker.Publish for one device PUBLISH; 0 means
	// 10 s. PUBACK is sent only after the broker accepted the message.
	PublishTimeout time.Duration
	// OriginPatterns lists the origins allowed for MQTT over WebSocket
	// (see websocket.AcceptOptions); requests without an Origin header are
	// always allowed.
	OriginPatterns []string
	// Logger receives connection events and mochi-mqtt's logs (one level
	// lower than mochi logs them, with component=mochi); nil means silent.
	Logger *slog.Logger
}

// Server lets MQTT 3.1.1 and 5 clients connect straight into a
// pubsub.Broker: their PUBLISH goes to the broker, and broker messages
// reach their subscriptions. Serve accepts TCP connections; ServeHTTP
// accepts MQTT over WebSocket (subprotocol "mqtt"). Create it with
// NewServer. It is safe for concurrent use.
type Server struct {
	broker      pubsub.Broker
	opts        ServerOptions
	limits      transport.Limits
	qos         byte
	maxInflight int
	log         *slog.Logger
	mochi       *mqtt.Server
	hook        *hook
	ctx         context.Context // cancelled when the server shuts down
	cancel      context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	sessions  sync.Map // *mqtt.Client → *session; read by every hook call
	byConn    map[net.Conn]*session
	wg        sync.WaitGroup // connections, accept loops and forwarders
	closeOnce sync.Once
}

// NewServer returns a Server publishing into and subscribing from b. opts
// may be nil. Call Close (or Shutdown) to release it.
func NewServer(b pubsub.Broker, opts *ServerOptions) (*Server, error) {
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		broker:      b,
		opts:        o,
		limits:      o.Limits.WithDefaults(),
		qos:         qosOption(o.QoS),
		maxInflight: o.MaxInflight,
		log:         log,
		listeners:   make(map[net.Listener]struct{}),
		conns:       make(map[net.Conn]struct{}),
		byConn:      make(map[net.Conn]*session),
	}
	if s.maxInflight <= 0 {
		s.maxInflight = 64
	}
	s.opts.WriteTimeout = opt.Or(o.WriteTimeout, 10*time.Second)
	s.opts.PublishTimeout = opt.Or(o.PublishTimeout, 10*time.Second)
	if s.opts.Buffer <= 0 {
		s.opts.Buffer = pubsub.DefaultBuffer
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumSessionExpiryInterval = 0 // sessions end with the connection
	caps.MaximumClientWritesPending = 64  // mochi's own queue; deliveries bypass it
	caps.MaximumMessageExpiryInterval = 0
	caps.ReceiveMaximum = 256
	caps.TopicAliasMaximum = 64 // each alias holds a topic of up to 64 KiB
	caps.SharedSubAvailable = 0
	if b.Capabilities().Groups {
		caps.SharedSubAvailable = 1
	}
	caps.RetainAvailable = 0
	if b.Capabilities().Retain {
		caps.RetainAvailable = 1
	}
	if s.limits.MaxConnections > 0 {
		caps.MaximumClients = int64(s.limits.MaxConnections)
	}
	if s.limits.MaxMessageBytes > 0 {
		// payload + topic (at most 65,535) + properties
		caps.MaximumPacketSize = uint32(min(s.limits.MaxMessageBytes+128<<10, 1<<28))
	}
	s.mochi = mqtt.New(&mqtt.Options{
		Capabilities:             caps,
		Logger:                   mochiLogger(log),
		SysTopicResendInterval:   1 << 30, // seconds: effectively never; $SYS is not exposed
		ClientNetWriteBufferSize: 2048,
		ClientNetReadBufferSize:  2048,
	})
	s.hook = &hook{s: s}
	if err := s.mochi.AddHook(s.hook, nil); err != nil {
		return nil, fmt.Errorf("mqttx: %w", err)
	}
	if err := s.mochi.Serve(); err != nil {
		return nil, fmt.Errorf("mqttx: %w", err)
	}
	return s, nil
}

// Serve accepts MQTT connections on ln until Close or Shutdown (then it
// returns ErrServerClosed) or until Accept fails. It closes ln on return.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-s.ctx.Done():
					t.Stop()
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		delay = 0
		if !s.track(c) {
			_ = c.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.serveConn("tcp", c)
		}()
	}
}

// track registers a connection; false when the server is closed.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = c.Close()
}

// serveConn runs one MQTT connection until it ends.
func (s *Server) serveConn(listener string, c net.Conn) {
	// mochi sets no deadline before CONNECT arrives; after it, the
	// keep-alive sets one.
	_ = c.SetReadDeadline(time.Now().Add(connectTimeout))
	c = &batchConn{Conn: c, timeout: s.opts.WriteTimeout}
	panicked := true
	defer func() {
		if !panicked {
			return
		}
		// mochi-mqtt v2.7.9's decoder panics on some malformed packets
		// (an MQTT 5 SUBSCRIBE without its options byte, found by
		// FuzzServerPackets). The read loop runs on this goroutine, so
		// the panic ends only this connection: treat it as a protocol
		// error.
		p := recover()
		s.log.Warn("mqttx: malformed packet, connection closed", "remote", c.RemoteAddr().String(), "panic", p)
		_ = c.Close()
		s.mu.Lock()
		ss := s.byConn[c]
		s.mu.Unlock()
		if ss != nil {
			cl := ss.cl
			cl.Stop(packets.ErrMalformedPacket)
			if cl.Properties.Will.Flag == 1 {
				_, _ = s.hook.OnWill(cl, cl.Properties.Will)
			}
			s.hook.OnDisconnect(cl, packets.ErrMalformedPacket, false)
		}
		s.endConn(c)
	}()
	err := s.mochi.EstablishConnection(listener, c)
	panicked = false
	if err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("mqttx: connection ended", "remote", c.RemoteAddr().String(), "err", err)
	}
	s.endConn(c)
}

// endConn ends the session of connection c if mochi did not (it skips
// OnDisconnect when the CONNACK cannot be written).
func (s *Server) endConn(c net.Conn) {
	s.mu.Lock()
	ss := s.byConn[c]
	delete(s.byConn, c)
	if ss != nil {
		s.sessions.CompareAndDelete(ss.cl, ss)
	}
	s.mu.Unlock()
	if ss != nil {
		ss.end()
	}
}

// connectTimeout bounds the wait for CONNECT on a new connection.
const connectTimeout = 10 * time.Second

// Shutdown stops accepting connections, disconnects every client with
// reason code 0x8B (server shutting down; MQTT 3.1.1 clients see the
// connection close) without publishing their wills, and waits for the
// connections to end or ctx to be done (then it closes what is left).
func (s *Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.closeOnce.Do(func() { _ = s.mochi.Close() })
	return ctx.Err()
}

// Close is Shutdown with an already expired context: every connection is
// closed at once. It waits for the server's goroutines and is idempotent.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Shutdown(ctx)
	return nil
}

// beginClose marks the server closed, closes the listeners and sends
// DISCONNECT to every client.
func (s *Server) beginClose() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.cancel()
	for ln := range s.listeners {
		_ = ln.Close()
	}
	var sessions []*session
	s.sessions.Range(func(_, v any) bool {
		sessions = append(sessions, v.(*session))
		return true
	})
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.disconnect(codeServerShuttingDown)
	}
}
