package ws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-go/switchboard/internal/backoff"

	"github.com/coder/websocket"
)

// Client is a switchboard.v1 client that stays connected: when the
// connection drops it reconnects with exponential backoff and jitter and
// resubscribes every subscription from the last cursor it delivered, so
// nothing is lost while the server's history reaches back (and a Gap event
// says when it did not). It is safe for concurrent use.
//
// One goroutine per client reads the connection and delivers messages.
type Client struct {
	url    string
	opts   ClientOptions
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the run goroutine exits
	nextID atomic.Uint64
	idle   *time.Timer // drops the current connection when it falls silent; dialing and reading goroutine only

	mu      sync.Mutex
	conn    *websocket.Conn // nil while disconnected
	live    bool            // conn is set and the resubscriptions are written
	up      chan struct{}   // closed when live, replaced when the connection drops
	down    chan struct{}   // closed when the connection drops, replaced when connected
	pending map[string]chan serverFrame
	subs    map[string]*Subscription
	err     error // why the client ended
	closed  bool
}

// Dial connects to a switchboard.v1 server (ws://, wss://, http:// or
// https:// URL) and returns a Client. The first connection attempt is made
// here with ctx: its failure is returned (wrapping the HTTP status or close
// code); later drops are repaired in the background. opts may be nil.
func Dial(ctx context.Context, url string, opts *ClientOptions) (*Client, error) {
	o := opts.withDefaults()
	c := &Client{url: url, opts: o, done: make(chan struct{}), up: make(chan struct{}),
		pending: make(map[string]chan serverFrame), subs: make(map[string]*Subscription)}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run(conn)
	return c, nil
}

func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	conn, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{
		HTTPClient:   c.opts.HTTPClient,
		HTTPHeader:   c.opts.Header,
		Subprotocols: []string{Subprotocol},
		OnPingReceived: func(context.Context, []byte) bool {
			c.kickIdle()
			return true
		},
	})
	if err != nil {
		if resp != nil {
			return nil, &DialError{StatusCode: resp.StatusCode, err: err}
		}
		return nil, fmt.Errorf("ws: failed to dial: %w", err)
	}
	if conn.Subprotocol() != Subprotocol {
		_ = conn.Close(websocket.StatusProtocolError, unsupportedSubprotocolReason)
		return nil, fmt.Errorf("ws: server did not agree to subprotocol %s", Subprotocol)
	}
	conn.SetReadLimit(readLimit(c.opts.ReadLimit))
	c.stopIdle()
	if c.opts.IdleTimeout > 0 {
		c.idle = time.AfterFunc(c.opts.IdleTimeout, func() { _ = conn.CloseNow() })
	}
	// A ping round trip proves the server accepted us: a refusal after
	// the upgrade (4401, 4403) arrives as a close instead of the pong.
	if err := handshakePing(ctx, conn, c.opts.WriteTimeout); err != nil {
		c.stopIdle()
		_ = conn.CloseNow()
		return nil, err
	}
	return conn, nil
}

func (c *Client) kickIdle() {
	if c.idle != nil {
		c.idle.Reset(c.opts.IdleTimeout)
	}
}

func (c *Client) stopIdle() {
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
}

func handshakePing(ctx context.Context, conn *websocket.Conn, timeout time.Duration) error {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ping","id":"hello"}`)); err != nil {
		return fmt.Errorf("ws: failed to greet the server: %w", err)
	}
	_, b, err := conn.Read(ctx)
	if err != nil {
		return fmt.Errorf("ws: server refused the connection: %w", err)
	}
	if f, err := decodeServerFrame(b); err != nil || f.Type != typePong {
		return fmt.Errorf("ws: server did not answer the greeting ping: %.100s", b)
	}
	return nil
}

// DialError is a handshake the server refused with an HTTP status (403 for
// a refused origin, 503 over the connection limit, …). A 4xx status other
// than 408 and 429 ends the Client for good; others are retried.
type DialError struct {
	// StatusCode is the HTTP status of the refusal.
	StatusCode int
	err        error
}

func (e *DialError) Error() string {
	return "ws: handshake refused with HTTP " + strconv.Itoa(e.StatusCode) + ": " + e.err.Error()
}

func (e *DialError) Unwrap() error { return e.err }

// fatal reports whether err means retrying is pointless: the server
// refused us (auth, origin, protocol) rather than went away.
func fatal(err error) bool {
	var de *DialError
	if errors.As(err, &de) {
		return de.StatusCode >= 400 && de.StatusCode < 500 && de.StatusCode != http.StatusTooManyRequests &&
			de.StatusCode != http.StatusRequestTimeout
	}
	switch websocket.CloseStatus(err) {
	case CloseUnauthorized, CloseForbidden, websocket.StatusProtocolError,
		websocket.StatusUnsupportedData, websocket.StatusPolicyViolation:
		// 1009 (a frame of ours over the server's read limit) is not
		// here: the publish that caused it fails with ErrDisconnected and
		// the client reconnects.
		return true
	}
	return false
}

func (c *Client) run(conn *websocket.Conn) {
	defer close(c.done)
	defer c.stopIdle()
	retry := backoff.Backoff{Min: c.opts.MinBackoff, Max: c.opts.MaxBackoff}
	for {
		err := c.serve(conn)
		c.disconnected()
		if c.ended(err) {
			return
		}
		c.opts.Logger.Info("ws: connection lost, reconnecting", "url", c.url, "err", err)
		for attempt := 1; ; attempt++ {
			if !c.sleep(retry.Delay(attempt)) {
				c.finish(ErrClosed)
				return
			}
			conn, err = c.dial(c.ctx)
			if err == nil {
				break
			}
			if c.ended(err) {
				return
			}
			c.opts.Logger.Info("ws: reconnect failed", "url", c.url, "err", err)
		}
	}
}

// ended finishes the client and reports true when it must not reconnect
// after err: it was closed, or the server refused it for good.
func (c *Client) ended(err error) bool {
	switch {
	case c.ctx.Err() != nil:
		c.finish(ErrClosed)
	case fatal(err):
		c.finish(fmt.Errorf("%w: %w", ErrClosed, err))
	default:
		return false
	}
	return true
}

func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// serve makes conn the live connection, resubscribes, and reads until the
// connection fails.
func (c *Client) serve(conn *websocket.Conn) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return ErrClosed
	}
	c.conn = conn
	c.down = make(chan struct{})
	resub := make([]*Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		resub = append(resub, s)
	}
	c.mu.Unlock()

	for _, s := range resub {
		since := s.last
		if s.group != "" {
			// A group has no single position to resume from: its
			// messages went to the other members (or wait in the group's
			// backlog, where the broker keeps one).
			since = ""
		} else if since == "" && s.confirmed {
			// Confirmed but without any position (a broker without
			// history): what was published while we were away is lost.
			s.deliver(c, Event{Gap: true})
		}
		b := appendClientFrame(nil, &clientFrame{Type: typeSubscribe, ID: s.id, Filter: s.filter, Since: since, Group: s.group})
		if err := c.write(conn, b); err != nil {
			return err
		}
	}
	// Publish and Request wait for this: their frames follow the
	// resubscriptions, so the server has the subscriptions back first.
	c.mu.Lock()
	c.live = true
	close(c.up)
	c.mu.Unlock()
	for {
		typ, b, err := conn.Read(context.Background())
		if err != nil {
			return err
		}
		c.kickIdle()
		if typ != websocket.MessageText {
			continue
		}
		f, err := decodeServerFrame(b)
		if err != nil {
			c.opts.Logger.Warn("ws: bad server frame", "err", err)
			continue
		}
		c.dispatch(&f)
	}
}

func (c *Client) dispatch(f *serverFrame) {
	switch f.Type {
	case typeMessage, typeGap:
		id := f.Sub
		c.mu.Lock()
		s := c.subs[id]
		c.mu.Unlock()
		if s == nil {
			return // unsubscribed: late frames are ignored
		}
		if f.Type == typeGap {
			s.deliver(c, Event{Gap: true})
			return
		}
		m, err := f.message()
		if err != nil {
			c.opts.Logger.Warn("ws: bad message frame", "err", err)
			return
		}
		if s.deliver(c, Event{Message: m}) && m.Cursor != "" {
			s.last = m.Cursor
		}
	case typeSubscribed:
		c.mu.Lock()
		s := c.subs[f.ID]
		c.mu.Unlock()
		if s != nil {
			if s.last == "" && f.Cursor != "" {
				s.last = f.Cursor
			}
			s.confirmed = true
			s.setReady(nil)
		}
	case typeError:
		c.mu.Lock()
		ch := c.pending[f.ID]
		delete(c.pending, f.ID)
		s := c.subs[f.ID]
		if ch == nil && s != nil {
			delete(c.subs, f.ID)
		}
		c.mu.Unlock()
		switch {
		case ch != nil:
			ch <- *f
		case s != nil:
			err := &Error{Code: f.Code, Message: f.Message}
			s.setReady(err)
			s.end(err)
		default:
			c.opts.Logger.Warn("ws: server error", "id", f.ID, "code", f.Code, "message", f.Message)
		}
	case typeAck, typeReply, typePong:
		c.mu.Lock()
		ch := c.pending[f.ID]
		delete(c.pending, f.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- *f
		}
	}
}

// disconnected forgets the connection and fails the operations waiting on
// it.
func (c *Client) disconnected() {
	c.mu.Lock()
	if c.conn != nil {
		_ = c.conn.CloseNow()
		close(c.down)
	}
	c.conn = nil
	c.live = false
	c.up = make(chan struct{})
	for id, ch := range c.pending {
		ch <- serverFrame{} // Type "" means disconnected
		delete(c.pending, id)
	}
	c.mu.Unlock()
}

// finish ends the client for good.
func (c *Client) finish(err error) {
	c.mu.Lock()
	c.closed = true
	c.err = err
	subs := c.subs
	c.subs = map[string]*Subscription{}
	close(c.up) // wake waiters; they see closed
	c.mu.Unlock()
	for _, s := range subs {
		s.setReady(err)
		s.end(err)
	}
}

// Err returns nil while the client runs, and why it ended once it has:
// ErrClosed after Close, or an error wrapping ErrClosed and the fatal close
// code or HTTP status (4401, 4403, …) the server refused it with.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection (code 1000), ends every subscription and
// waits for the client's goroutine. It is idempotent.
func (c *Client) Close() error {
	c.cancel()
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}
	<-c.done
	return nil
}

// connected waits for a live connection.
func (c *Client) connected(ctx context.Context) (*websocket.Conn, error) {
	for {
		c.mu.Lock()
		conn, live, up, closed, err := c.conn, c.live, c.up, c.closed, c.err
		c.mu.Unlock()
		if closed {
			return nil, err
		}
		if live {
			return conn, nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *Client) write(conn *websocket.Conn, b []byte) error {
	ctx, cancel := withTimeout(c.ctx, c.opts.WriteTimeout)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, b)
}

// withTimeout is context.WithTimeout where a timeout of 0 means none.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

func (c *Client) newID(prefix string) string {
	return prefix + strconv.FormatUint(c.nextID.Add(1), 10)
}
