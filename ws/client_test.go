package ws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

var fastBackoff = &ClientOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}

func dialClient(t *testing.T, url string, opts *ClientOptions) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func next(t *testing.T, s *Subscription) Event {
	t.Helper()
	select {
	case ev, ok := <-s.C():
		require.True(t, ok, "subscription ended: %v", s.Err())
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return Event{}
}

func TestClientPublishSubscribeRequest(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := dialClient(t, ts.url, nil)
	ctx := context.Background()

	sub, err := c.Subscribe(ctx, "chat/#", nil)
	require.NoError(t, err)
	rec, err := c.Publish(ctx, pubsub.Message{Topic: "chat/a", Data: []byte{0, 1, 2}, Header: map[string]string{"k": "v"}})
	require.NoError(t, err)
	require.NotEmpty(t, rec.Cursor)
	require.NotEmpty(t, rec.ID)
	require.False(t, rec.Time.IsZero())
	ev := next(t, sub)
	require.False(t, ev.Gap)
	require.Equal(t, []byte{0, 1, 2}, ev.Message.Data)
	require.Equal(t, rec.Cursor, ev.Message.Cursor)
	require.Equal(t, rec.ID, ev.Message.ID)
	require.Equal(t, "v", ev.Message.Header["k"])

	// A Go responder over the same protocol.
	svc, err := c.Subscribe(ctx, "svc/upper", nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range svc.C() {
			_, _ = c.Reply(ctx, ev.Message, pubsub.Message{Data: append([]byte("up:"), ev.Message.Data...)})
		}
	}()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reply, err := c.Request(rctx, pubsub.Message{Topic: "svc/upper", Data: []byte("x")})
	require.NoError(t, err)
	require.Equal(t, "up:x", string(reply.Data))
	require.NoError(t, svc.Close())
	wg.Wait()
	require.ErrorIs(t, svc.Err(), ErrClosed)

	_, err = c.Reply(ctx, ev.Message, pubsub.Message{})
	require.ErrorIs(t, err, pubsub.ErrNoReplyTo)

	// A request nobody answers.
	tctx, tcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer tcancel()
	_, err = c.Request(tctx, pubsub.Message{Topic: "svc/none"})
	require.Error(t, err)

	// Server errors come back as *Error, matchable.
	_, err = c.Publish(ctx, pubsub.Message{Topic: "bad/+"})
	var se *Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, transport.CodeBadRequest, se.Code)
	require.ErrorIs(t, err, transport.ErrBadRequest)
	_, err = c.Subscribe(ctx, "a", &SubscribeOptions{Group: "g", Since: "x-1"})
	require.ErrorIs(t, err, pubsub.ErrNotSupported)
	_, err = c.Subscribe(ctx, "a/#/b", nil)
	require.ErrorIs(t, err, pubsub.ErrInvalidFilter)

	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Err(), ErrClosed)
	_, ok := <-sub.C()
	require.False(t, ok)
	_, err = c.Publish(ctx, pubsub.Message{Topic: "a"})
	require.ErrorIs(t, err, ErrClosed)
}

// restartableServer serves one Memory broker on a fixed address; restart
// replaces the Handler and http.Server as a process restart would. The
// port is held across restarts (by a portKeeper): listening again on it
// could fail when, under parallel load, another connection took it as its
// local port meanwhile.
type restartableServer struct {
	t      *testing.T
	addr   string
	broker pubsub.Broker
	port   *portKeeper
	h      *Handler
	srv    *http.Server
	served chan struct{}
}

// start serves on the test goroutine; tryStart is for other goroutines.
func (r *restartableServer) start() {
	r.t.Helper()
	require.NoError(r.t, r.tryStart())
}

func (r *restartableServer) tryStart() error {
	if r.port == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		r.port = newPortKeeper(ln)
		r.addr = ln.Addr().String()
		r.t.Cleanup(r.port.close)
	}
	r.h = NewHandler(r.broker, nil)
	r.srv = &http.Server{Handler: r.h}
	r.served = make(chan struct{})
	ln := r.port.listen()
	go func() { defer close(r.served); _ = r.srv.Serve(ln) }()
	return nil
}

// stop shuts down on the test goroutine; tryStop is for other goroutines.
func (r *restartableServer) stop() {
	r.t.Helper()
	require.NoError(r.t, r.tryStop())
}

func (r *restartableServer) tryStop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.h.Shutdown(ctx); err != nil {
		return fmt.Errorf("handler shutdown: %w", err)
	}
	if err := r.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("server shutdown: %w", err)
	}
	<-r.served
	return nil
}

// portKeeper accepts on one listener for the whole test and hands the
// connections to the listener of the server running now; between servers
// it closes them at once, as a port nobody serves would refuse them.
type portKeeper struct {
	ln   net.Listener
	mu   sync.Mutex
	cur  *keptListener
	done chan struct{}
}

func newPortKeeper(ln net.Listener) *portKeeper {
	p := &portKeeper{ln: ln, done: make(chan struct{})}
	go p.run()
	return p
}

func (p *portKeeper) run() {
	defer close(p.done)
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cur := p.cur
		p.mu.Unlock()
		if cur == nil {
			_ = c.Close()
			continue
		}
		select {
		case cur.conns <- c:
		case <-cur.closed:
			_ = c.Close()
		}
	}
}

// listen returns the listener of the next server.
func (p *portKeeper) listen() net.Listener {
	l := &keptListener{p: p, conns: make(chan net.Conn), closed: make(chan struct{})}
	p.mu.Lock()
	p.cur = l
	p.mu.Unlock()
	return l
}

func (p *portKeeper) close() {
	_ = p.ln.Close()
	<-p.done
}

type keptListener struct {
	p      *portKeeper
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *keptListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *keptListener) Close() error {
	l.once.Do(func() {
		l.p.mu.Lock()
		if l.p.cur == l {
			l.p.cur = nil
		}
		l.p.mu.Unlock()
		close(l.closed)
	})
	return nil
}

func (l *keptListener) Addr() net.Addr { return l.p.ln.Addr() }

func TestClientSurvivesServerRestart(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	rs := &restartableServer{t: t, broker: b}
	rs.start()
	c := dialClient(t, "ws://"+rs.addr+"/", fastBackoff)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, "seq", nil)
	require.NoError(t, err)

	const total = 600
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a publisher that never stops for the restarts
		defer wg.Done()
		for i := range total {
			_, err := b.Publish(ctx, pubsub.Message{Topic: "seq", Data: []byte(strconv.Itoa(i))})
			if err != nil {
				t.Errorf("publish: %v", err)
				return
			}
		}
	}()
	pubDone := make(chan error, 1)
	restarted := make(chan error, 2)
	for i := range total {
		ev := next(t, sub)
		require.False(t, ev.Gap, "no gap expected at %d", i)
		require.Equal(t, strconv.Itoa(i), string(ev.Message.Data), "in order, once")
		switch i {
		case 100, 300:
			if i == 300 {
				// the first restart is over: we got messages since
				require.NoError(t, <-restarted, "first restart")
			}
			// Restart from another goroutine: the close handshake needs
			// this consumer to keep reading. Its errors come back here
			// (require only runs on the test goroutine).
			go func() {
				if err := rs.tryStop(); err != nil {
					restarted <- err
					return
				}
				if i == 300 {
					// A publish while disconnected waits for the reconnect.
					// One the client sent before it noticed the drop fails
					// with ErrDisconnected; as the doc says, it is published
					// again with the same ID (the idempotency key).
					go func() {
						msg := pubsub.Message{Topic: "other", ID: "publish-across-restart", Data: []byte("1")}
						var err error
						for range 10 {
							if _, err = c.Publish(ctx, msg); !errors.Is(err, ErrDisconnected) {
								break
							}
						}
						pubDone <- err
					}()
				}
				restarted <- rs.tryStart()
			}()
		}
	}
	require.NoError(t, <-restarted, "second restart")
	wg.Wait()
	require.NoError(t, <-pubDone)
	require.NoError(t, c.Close())
	rs.stop()
}

func TestClientGapAfterEpochChange(t *testing.T) {
	b1 := pubsub.NewMemory(nil)
	rs := &restartableServer{t: t, broker: b1}
	rs.start()
	c := dialClient(t, "ws://"+rs.addr+"/", fastBackoff)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, "t", nil)
	require.NoError(t, err)
	publish(t, b1, "t", "1")
	require.Equal(t, "1", string(next(t, sub).Message.Data))

	rs.stop()
	require.NoError(t, b1.Close())
	b2 := pubsub.NewMemory(nil) // new epoch: history lost
	defer b2.Close()
	rs.broker = b2
	rs.start()
	ev := next(t, sub)
	require.True(t, ev.Gap, "the client is told that it may have missed messages")
	publish(t, b2, "t", "2")
	require.Equal(t, "2", string(next(t, sub).Message.Data))
	require.NoError(t, c.Close())
	rs.stop()
}

func TestClientResumesWithoutAnyDelivery(t *testing.T) {
	// A subscription that received nothing before the drop resumes from the
	// head cursor of its "subscribed" frame: what was published meanwhile
	// arrives.
	b := pubsub.NewMemory(nil)
	defer b.Close()
	publish(t, b, "other", "x")
	rs := &restartableServer{t: t, broker: b}
	rs.start()
	c := dialClient(t, "ws://"+rs.addr+"/", fastBackoff)
	sub, err := c.Subscribe(context.Background(), "t", nil)
	require.NoError(t, err)
	rs.stop()
	publish(t, b, "t", "while-down")
	rs.start()
	ev := next(t, sub)
	require.False(t, ev.Gap)
	require.Equal(t, "while-down", string(ev.Message.Data))
	require.NoError(t, c.Close())
	rs.stop()
}

func TestClientFatalRefusal(t *testing.T) {
	var allow atomic.Bool
	allow.Store(true)
	auth := &transport.Auth{Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
		if allow.Load() {
			return nil, nil
		}
		return nil, transport.ErrForbidden
	}}
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h1 := NewHandler(b, &Options{Auth: auth})
	h2 := NewHandler(b, &Options{Auth: auth})
	var current atomic.Pointer[Handler]
	current.Store(h1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		current.Load().ServeHTTP(w, r)
	}))
	defer func() {
		_ = h1.Close()
		_ = h2.Close()
		srv.Close()
	}()

	c := dialClient(t, srv.URL, fastBackoff)
	sub, err := c.Subscribe(context.Background(), "t", nil)
	require.NoError(t, err)
	allow.Store(false)
	current.Store(h2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h1.Shutdown(ctx)) // 1001: the client reconnects, gets 4403: fatal
	_, ok := <-sub.C()
	require.False(t, ok)
	require.ErrorIs(t, sub.Err(), ErrClosed)
	require.ErrorIs(t, c.Err(), ErrClosed)
	require.Equal(t, CloseForbidden, websocket.CloseStatus(c.Err()))
}

func TestClientIdleTimeoutReconnects(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, &Options{KeepAlive: -1}) // a server that falls silent
	conns := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns <- struct{}{}
		h.ServeHTTP(w, r)
	}))
	defer func() { _ = h.Close(); srv.Close() }()

	c := dialClient(t, srv.URL, &ClientOptions{IdleTimeout: 100 * time.Millisecond,
		MinBackoff: fastBackoff.MinBackoff, MaxBackoff: fastBackoff.MaxBackoff})
	sub, err := c.Subscribe(context.Background(), "t", nil)
	require.NoError(t, err)
	<-conns
	select {
	case <-conns: // the silent connection was dropped and replaced
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect after the idle timeout")
	}
	publish(t, b, "t", "after")
	ev := next(t, sub)
	require.False(t, ev.Gap)
	require.Equal(t, "after", string(ev.Message.Data))
	require.NoError(t, c.Close())
}

func TestClientGroupSubscriptionSurvivesRestart(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	rs := &restartableServer{t: t, broker: b}
	rs.start()
	c := dialClient(t, "ws://"+rs.addr+"/", fastBackoff)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, "jobs", &SubscribeOptions{Group: "workers"})
	require.NoError(t, err)
	_, err = c.Publish(ctx, pubsub.Message{Topic: "jobs", Data: []byte("1")})
	require.NoError(t, err)
	require.Equal(t, "1", string(next(t, sub).Message.Data))
	rs.stop()
	rs.start()
	// The publish waits for the reconnect and follows the resubscription
	// (without since: a group has no position), so the member gets it.
	_, err = c.Publish(ctx, pubsub.Message{Topic: "jobs", Data: []byte("2")})
	require.NoError(t, err)
	ev := next(t, sub)
	require.False(t, ev.Gap)
	require.Equal(t, "2", string(ev.Message.Data))
	require.NoError(t, c.Close())
	rs.stop()
}

func TestClientGapWithoutHistory(t *testing.T) {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1}) // no cursors: nothing to resume from
	defer b.Close()
	rs := &restartableServer{t: t, broker: b}
	rs.start()
	c := dialClient(t, "ws://"+rs.addr+"/", fastBackoff)
	sub, err := c.Subscribe(context.Background(), "t", nil)
	require.NoError(t, err)
	publish(t, b, "t", "1")
	ev := next(t, sub)
	require.Equal(t, "1", string(ev.Message.Data))
	require.Empty(t, ev.Message.Cursor)
	rs.stop()
	rs.start()
	require.True(t, next(t, sub).Gap, "a reconnect without a cursor is reported, never silent")
	_, err = c.Publish(context.Background(), pubsub.Message{Topic: "t", Data: []byte("2")})
	require.NoError(t, err)
	require.Equal(t, "2", string(next(t, sub).Message.Data))
	require.NoError(t, c.Close())
	rs.stop()
}

func TestClientSurvivesOversizedPublish(t *testing.T) {
	ts := newTestServer(t, &Options{ReadLimit: 1024}, nil)
	c := dialClient(t, ts.url, fastBackoff)
	ctx := context.Background()
	sub, err := c.Subscribe(ctx, "t", nil)
	require.NoError(t, err)
	_, err = c.Publish(ctx, pubsub.Message{Topic: "t", Data: make([]byte, 4096)})
	require.ErrorIs(t, err, ErrDisconnected, "the server closed with 1009")
	// A frame so large that the server closes while it is being written:
	// bounded retries, then ErrDisconnected.
	_, err = c.Publish(ctx, pubsub.Message{Topic: "t", Data: make([]byte, 8<<20)})
	require.ErrorIs(t, err, ErrDisconnected)
	// The client reconnected, resubscribed, and works.
	_, err = c.Publish(ctx, pubsub.Message{Topic: "t", Data: []byte("small")})
	require.NoError(t, err)
	require.Equal(t, "small", string(next(t, sub).Message.Data))
	require.NoError(t, c.Err())
}
