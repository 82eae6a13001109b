package mqttx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// ErrServerClosed is returned by Server.Serve after Close or Shutdown.
var ErrServerClosed = errors.New("mqttx: server closed")

// Server lets MQTT 3.1.1 and 5 clients connect straight into a
// pubsub.Broker: their PUBLISH goes to the broker, and broker messages
// reach their subscriptions. Serve accepts TCP connections; ServeHTTP
// accepts MQTT over WebSocket (subprotocol "mqtt"). Create it with
// NewServer. It is safe for concurrent use.
type Server struct {
	broker pubsub.Broker
	opts   ServerOptions // with defaults applied
	limits transport.Limits
	log    *slog.Logger
	mochi  *mqtt.Server
	hook   *hook
	ctx    context.Context // cancelled when Shutdown or Close starts
	cancel context.CancelFunc

	listeners *lifecycle.Tracker // Serve loops
	conns     *lifecycle.Tracker // client connections, TCP and WebSocket
	sessions  sync.Map           // *mqtt.Client → *session; read by every hook call
	closeOnce sync.Once          // closes mochi once the connections are gone
}

// NewServer returns a Server publishing into and subscribing from b. opts
// may be nil. Call Shutdown or Close to release it.
func NewServer(b pubsub.Broker, opts *ServerOptions) (*Server, error) {
	o := opts.withDefaults()
	s := &Server{
		broker:    b,
		opts:      o,
		limits:    o.Limits.WithDefaults(),
		log:       o.Logger,
		listeners: lifecycle.New(0),
		conns:     lifecycle.New(0), // mochi enforces MaxConnections, with CONNACK 0x89
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.conns.Observe(o.Observer, transportName)

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
		Logger:                   mochiLogger(s.log),
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

// Serve accepts MQTT connections on ln until Shutdown or Close (then it
// returns ErrServerClosed) or until Accept fails. It closes ln on return.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.listeners.Enter(); err != nil {
		_ = ln.Close()
		return ErrServerClosed
	}
	l := &listener{ln}
	s.listeners.Attach(l)
	defer s.listeners.Leave(l)
	defer ln.Close()
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
		if err := s.conns.Enter(); err != nil {
			_ = c.Close()
			return ErrServerClosed
		}
		cc := s.newConn(c, c.Close)
		go func() {
			defer s.conns.Leave(cc)
			s.serveConn("tcp", cc)
		}()
	}
}

// listener is a Serve loop in the listeners Tracker: closing its listener
// ends it.
type listener struct{ ln net.Listener }

func (l *listener) GoAway() { _ = l.ln.Close() }
func (l *listener) Cut()    { _ = l.ln.Close() }

// clientConn is one client connection, TCP or WebSocket, in the conns
// Tracker: the net.Conn mochi reads and writes (writes batched), and the
// MQTT session once CONNECT was accepted.
type clientConn struct {
	*batchConn
	cut func() // closes the connection at once, without a handshake

	closed atomic.Bool // Close was called (mochi closes before it marks the client closed)

	mu       sync.Mutex
	ss       *session // nil until OnConnect accepts the client
	goneAway bool     // GoAway was called: OnConnect refuses the client
}

// Close closes the connection and records it first, so a client that
// reconnects as soon as it sees the close finds the old connection ended
// even before mochi marks its client closed.
func (cc *clientConn) Close() error {
	cc.closed.Store(true)
	return cc.batchConn.Close()
}

// newConn wraps c and attaches it to the conns Tracker (entered by the
// caller); cut closes c at once.
func (s *Server) newConn(c net.Conn, cut func() error) *clientConn {
	cc := &clientConn{batchConn: &batchConn{Conn: c, timeout: s.opts.WriteTimeout}, cut: func() { _ = cut() }}
	s.conns.Attach(cc)
	return cc
}

// connOf returns the connection of a mochi client.
func connOf(cl *mqtt.Client) *clientConn {
	cc, _ := cl.Net.Conn.(*clientConn)
	return cc
}

// GoAway disconnects the client with reason code 0x8B (server shutting
// down; MQTT 3.1.1 clients see the connection close), without its will. A
// connection whose client has not connected yet is closed.
func (cc *clientConn) GoAway() {
	cc.mu.Lock()
	cc.goneAway = true
	ss := cc.ss
	cc.mu.Unlock()
	if ss == nil || !ss.goAway() {
		cc.cut()
	}
}

// Cut closes the connection at once, without DISCONNECT.
func (cc *clientConn) Cut() { cc.cut() }

// accept makes ss the connection's session; false when the connection
// was told to go away first.
func (cc *clientConn) accept(ss *session) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.goneAway {
		return false
	}
	cc.ss = ss
	return true
}

func (cc *clientConn) session() *session {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.ss
}

// serveConn runs one MQTT connection until it ends, and waits for the
// goroutines of its session.
func (s *Server) serveConn(listener string, cc *clientConn) {
	// mochi sets no deadline before CONNECT arrives; after it, the
	// keep-alive sets one.
	_ = cc.SetReadDeadline(time.Now().Add(connectTimeout))
	defer s.endConn(cc)
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
		s.log.Warn("mqttx: malformed packet, connection closed", "remote", cc.RemoteAddr().String(), "panic", p)
		_ = cc.Close()
		if ss := cc.session(); ss != nil {
			cl := ss.cl
			cl.Stop(packets.ErrMalformedPacket)
			if cl.Properties.Will.Flag == 1 {
				_, _ = s.hook.OnWill(cl, cl.Properties.Will)
			}
			s.hook.OnDisconnect(cl, packets.ErrMalformedPacket, false)
		}
	}()
	err := s.mochi.EstablishConnection(listener, cc)
	panicked = false
	if err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("mqttx: connection ended", "remote", cc.RemoteAddr().String(), "err", err)
	}
}

// endConn closes the connection, ends its session if mochi did not (it
// skips OnDisconnect when the CONNACK cannot be written), and waits for
// the session's goroutines.
func (s *Server) endConn(cc *clientConn) {
	_ = cc.Close()
	ss := cc.session()
	if ss == nil {
		return
	}
	s.sessions.CompareAndDelete(ss.cl, ss)
	ss.end()
	ss.wg.Wait()
}

// connectTimeout bounds the wait for CONNECT on a new connection.
const connectTimeout = 10 * time.Second

// Shutdown shuts the server down gracefully. The listeners close (Serve
// returns ErrServerClosed), new WebSocket connections get 503, and every
// client is disconnected with reason code 0x8B (server shutting down;
// MQTT 3.1.1 clients see the connection close), without publishing its
// will; a connection that has not sent CONNECT yet is closed. Shutdown
// waits until every connection has ended. When ctx ends first, it closes
// the remaining connections as Close does, waits for them, and returns
// ctx's error. It is idempotent and safe to call concurrently with Close,
// Serve and ServeHTTP.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	err := s.conns.Shutdown(ctx)
	s.closeMochi()
	return err
}

// Close shuts the server down abruptly: the listeners close and every
// connection is closed at once, without DISCONNECT and without wills.
// Close waits for the server's goroutines and returns nil. It is
// idempotent and safe to call concurrently with Shutdown, Serve and
// ServeHTTP.
func (s *Server) Close() error {
	s.stop()
	_ = s.conns.Close()
	s.closeMochi()
	return nil
}

// Active returns the number of open client connections (TCP and
// WebSocket), including those that have not sent CONNECT yet.
func (s *Server) Active() int { return s.conns.Active() }

// stop cancels the server's context (no wills from now on) and closes the
// listeners, waiting for the Serve loops to return.
func (s *Server) stop() {
	s.cancel()
	_ = s.listeners.Close()
}

func (s *Server) closeMochi() {
	s.closeOnce.Do(func() { _ = s.mochi.Close() })
}
