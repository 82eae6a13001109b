package sse

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// endings records the reasons of ended subscriptions.
type endings struct {
	mu      sync.Mutex
	reasons []transport.EndReason
}

func (e *endings) observer() *transport.Observer {
	return &transport.Observer{SubEnded: func(ev transport.SubEvent) {
		e.mu.Lock()
		e.reasons = append(e.reasons, ev.Reason)
		e.mu.Unlock()
	}}
}

func (e *endings) get() []transport.EndReason {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]transport.EndReason(nil), e.reasons...)
}

// rawGet opens a stream over a plain TCP connection (no client goroutine)
// and reads up to the end of its sb-open event.
func rawGet(t *testing.T, addr, target, proto string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = fmt.Fprintf(c, "GET %s %s\r\nHost: x\r\n\r\n", target, proto)
	require.NoError(t, err)
	r := bufio.NewReader(c)
	readUntil(t, c, r, "event: sb-open")
	return c, r
}

// readUntil reads lines until one contains want; it returns the lines
// read.
func readUntil(t *testing.T, c net.Conn, r *bufio.Reader, want string) []string {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	var lines []string
	for {
		l, err := r.ReadString('\n')
		require.NoError(t, err, "reading until %q after %q", want, lines)
		lines = append(lines, l)
		if strings.Contains(l, want) {
			return lines
		}
	}
}

func addrOf(url string) string { return strings.TrimPrefix(url, "http://") }

// TestTakeOverIdleStreamsOwnNoGoroutine: idle HTTP/1.1 streams are taken
// over from net/http and cost no goroutine (the shared netwatch poller
// aside); they still deliver. With KeepOnServer each costs net/http's
// goroutines, which shows the count can tell.
func TestTakeOverIdleStreamsOwnNoGoroutine(t *testing.T) {
	const n = 50
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("KeepOnServer=", keep), func(t *testing.T) {
			b, h, srv := setup(t, pubsub.MemoryOptions{}, &Options{KeepOnServer: keep, KeepAlive: time.Hour})
			before := runtime.NumGoroutine()
			type conn struct {
				c net.Conn
				r *bufio.Reader
			}
			var conns []conn
			for range n {
				c, r := rawGet(t, addrOf(srv.URL), "/?topic=t", "HTTP/1.1")
				conns = append(conns, conn{c, r})
			}
			require.Equal(t, n, h.Active())
			grown := 0
			require.Eventually(t, func() bool {
				grown = runtime.NumGoroutine() - before
				if keep {
					return grown >= n
				}
				return grown <= 2
			}, 5*time.Second, time.Millisecond, "goroutines grew by %d for %d streams", grown, n)
			publish(t, b, "t", "hello", nil)
			for _, c := range conns {
				readUntil(t, c.c, c.r, "data: hello")
			}
		})
	}
}

// TestTakeOverHangUpEndsStream: a client that closes its connection ends
// its idle stream at once (netwatch), not at the next keep-alive.
func TestTakeOverHangUpEndsStream(t *testing.T) {
	var e endings
	_, h, srv := setup(t, pubsub.MemoryOptions{}, &Options{KeepAlive: time.Hour, Observer: e.observer()})
	c, _ := rawGet(t, addrOf(srv.URL), "/?topic=t", "HTTP/1.1")
	require.Equal(t, 1, h.Active())
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return h.Active() == 0 }, 5*time.Second, time.Millisecond)
	require.Equal(t, []transport.EndReason{transport.EndClient}, e.get())
}

// TestTakeOverChunksAndEnds: the taken-over response stays a valid
// HTTP/1.1 chunked body: events arrive in chunks, keep-alives too, and a
// graceful end (Shutdown) sends the last chunk before closing.
func TestTakeOverChunksAndEnds(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, &Options{KeepAlive: 20 * time.Millisecond})
	srv := newServer(t, h)
	c, err := net.Dial("tcp", addrOf(srv.URL))
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "GET /?topic=t HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	er := newEventReader(resp.Body, 0)
	ev, err := er.next()
	require.NoError(t, err)
	require.Equal(t, "sb-open", ev.Type)
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	for i := range 3 {
		publish(t, b, "t", "m"+strconv.Itoa(i), nil)
	}
	for i := range 3 {
		ev, err := er.next()
		require.NoError(t, err)
		require.Equal(t, "m"+strconv.Itoa(i), ev.Data)
	}
	// Keep-alive comments keep coming on the idle stream.
	raw := bufio.NewReader(resp.Body)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	pings := 0
	for pings < 2 {
		l, err := raw.ReadString('\n')
		require.NoError(t, err)
		if l == ": ping\n" {
			pings++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.Shutdown(ctx))
	rest, err := io.ReadAll(raw)
	require.NoError(t, err, "the chunked body ends cleanly: last chunk, then close")
	require.NotContains(t, string(rest), "data:")
}

// TestTakeOverHTTP10: an HTTP/1.0 request gets a body delimited by the
// connection's close, not chunks.
func TestTakeOverHTTP10(t *testing.T) {
	b, h, srv := setup(t, pubsub.MemoryOptions{}, &Options{KeepAlive: time.Hour})
	c, r := rawGet(t, addrOf(srv.URL), "/?topic=t", "HTTP/1.0")
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	publish(t, b, "t", "plain", nil)
	lines := readUntil(t, c, r, "data: plain")
	for _, l := range lines {
		_, err := strconv.ParseUint(strings.TrimSpace(l), 16, 32)
		require.Error(t, err, "a chunk-size line %q in an HTTP/1.0 response", l)
	}
}

// TestTakeOverCloseBreaksBlockedWrite: Close ends a taken-over stream
// whose write is blocked on a client that stopped reading, at once, with
// no write timeout to wait for.
func TestTakeOverCloseBreaksBlockedWrite(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, &Options{WriteTimeout: time.Hour, Buffer: 4096, KeepAlive: time.Hour})
	srv := newServer(t, h)
	rawGet(t, addrOf(srv.URL), "/?topic=t", "HTTP/1.1") // and never read again
	payload := []byte(strings.Repeat("x", 64<<10))
	for range 300 { // more than loopback buffers hold
		_, err := b.Publish(context.Background(), pubsub.Message{Topic: "t", Data: payload})
		require.NoError(t, err)
	}
	done := make(chan struct{})
	go func() {
		_ = h.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not break the blocked write")
	}
	require.Equal(t, 0, h.Active())
}

// TestTakeOverStalledReaderIsSlowConsumer: a client that stops reading is
// ended as a slow consumer, and the stream says so to the Observer. A
// write blocked on it fails at WriteTimeout, whether or not its buffer
// overflowed meanwhile (an overflow ends the subscription, but only the
// timeout ends the blocked write: as on net/http's goroutine).
func TestTakeOverStalledReaderIsSlowConsumer(t *testing.T) {
	for name, o := range map[string]Options{
		"write timeout": {WriteTimeout: 50 * time.Millisecond, Buffer: 4096},
		"buffer":        {WriteTimeout: 200 * time.Millisecond, Buffer: 8},
	} {
		t.Run(name, func(t *testing.T) {
			var e endings
			o.KeepAlive, o.Observer = time.Hour, e.observer()
			b, h, srv := setup(t, pubsub.MemoryOptions{}, &o)
			rawGet(t, addrOf(srv.URL), "/?topic=t", "HTTP/1.1")
			payload := []byte(strings.Repeat("x", 64<<10))
			for range 300 {
				_, err := b.Publish(context.Background(), pubsub.Message{Topic: "t", Data: payload})
				require.NoError(t, err)
			}
			require.Eventually(t, func() bool { return h.Active() == 0 }, 10*time.Second, time.Millisecond)
			require.Equal(t, []transport.EndReason{transport.EndSlowConsumer}, e.get())
		})
	}
}

// TestTakeOverResumesAcrossCuts: a client whose connections are cut at
// random points (by the client side, mid-chunk) while messages are
// published resumes each time from its Last-Event-ID and gets every
// message exactly once, in order.
func TestTakeOverResumesAcrossCuts(t *testing.T) {
	b, h, srv := setup(t, pubsub.MemoryOptions{HistorySize: 100_000}, &Options{Retry: time.Millisecond})
	var cuts atomic.Int32
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		n := dials.Add(1)
		return &cutConn{Conn: c, left: 2000 + int(n%5)*1500, cuts: &cuts}, nil
	}}
	defer tr.CloseIdleConnections()
	c := &Client{URL: srv.URL + "?topic=t", HTTPClient: &http.Client{Transport: tr}, Retry: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	const n = 3000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pubs sync.WaitGroup
	defer pubs.Wait()
	next := 0
	err := c.Run(ctx, func(ev Event) error {
		switch ev.Type {
		case "sb-open":
			if next != 0 {
				return fmt.Errorf("a second sb-open: a resume became a fresh stream")
			}
			pubs.Go(func() {
				for i := range n {
					if _, err := b.Publish(ctx, pubsub.Message{Topic: "t", Data: []byte(strconv.Itoa(i))}); err != nil {
						t.Error(err)
						return
					}
				}
			})
			return nil
		case "":
		default:
			return fmt.Errorf("unexpected event %+v", ev)
		}
		if ev.Data != strconv.Itoa(next) {
			return fmt.Errorf("got %s, want %d", ev.Data, next)
		}
		next++
		if next == n {
			return errDone
		}
		return nil
	})
	require.ErrorIs(t, err, errDone)
	require.Greater(t, cuts.Load(), int32(3), "connections were cut")
	require.Eventually(t, func() bool { return h.Active() == 0 }, 5*time.Second, time.Millisecond)
}

// cutConn closes itself after reading left bytes.
type cutConn struct {
	net.Conn
	left int
	cuts *atomic.Int32
}

func (c *cutConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.cuts.Add(1)
		c.Conn.Close()
		return 0, io.ErrUnexpectedEOF
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	return n, err
}

// newServer serves h on a test server closed when the test ends (the
// Handler's own Shutdown or Close is the test's).
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestTakeOverKeepsRequestDeadline: a deadline a middleware put on the
// request's context still ends a taken-over stream (its cancellation
// cannot: net/http cancels the context when ServeHTTP returns).
func TestTakeOverKeepsRequestDeadline(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	var e endings
	h := NewHandler(b, &Options{KeepAlive: time.Hour, Observer: e.observer()})
	defer h.Close()
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 300*time.Millisecond)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	c, r := rawGet(t, addrOf(srv.URL), "/?topic=t", "HTTP/1.1")
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	publish(t, b, "t", "before", nil)
	readUntil(t, c, r, "data: before") // the middleware's cancel did not end it
	require.Eventually(t, func() bool { return h.Active() == 0 }, 5*time.Second, time.Millisecond, "the deadline ended the stream")
	require.Equal(t, []transport.EndReason{transport.EndClient}, e.get())
}

// TestTakeOverKeepsConnectionCounted: what authentication holds for the
// connection (a rate limiter's open-connection count, released when the
// context it was given ends) lasts until the taken-over stream ends, not
// until ServeHTTP returns.
func TestTakeOverKeepsConnectionCounted(t *testing.T) {
	var open atomic.Int32
	auth := &transport.Auth{Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
		open.Add(1)
		context.AfterFunc(ctx, func() { open.Add(-1) })
		return &transport.Identity{Subject: "u"}, nil
	}}
	_, h, _ := setup(t, pubsub.MemoryOptions{}, &Options{Auth: auth, KeepAlive: time.Hour})
	returned := make(chan struct{})
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		close(returned)
	}))
	c, _ := rawGet(t, addrOf(srv.URL), "/?topic=t", "HTTP/1.1")
	<-returned // taken over: ServeHTTP returned, net/http cancelled the request's context
	require.Equal(t, 1, h.Active())
	require.Equal(t, int32(1), open.Load(), "the count holds while the stream is open")
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return open.Load() == 0 }, 5*time.Second, time.Millisecond, "released when the stream ended")
}

// TestTakeOverCoalesceHoldsBusyStream: a taken-over stream's first message
// goes out at once; one published right after waits until Coalesce has
// passed since that write, together with those that follow it.
func TestTakeOverCoalesceHoldsBusyStream(t *testing.T) {
	const hold = 300 * time.Millisecond
	b, h, srv := setup(t, pubsub.MemoryOptions{}, &Options{Coalesce: hold, KeepAlive: time.Hour})
	c, r := rawGet(t, addrOf(srv.URL), "/?topic=t", "HTTP/1.1")
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	publish(t, b, "t", "first", nil)
	readUntil(t, c, r, "data: first")
	first := time.Now()
	publish(t, b, "t", "second", nil)
	publish(t, b, "t", "third", nil)
	readUntil(t, c, r, "data: second")
	require.GreaterOrEqual(t, time.Since(first), hold-50*time.Millisecond, "the busy stream wrote again before Coalesce")
	readUntil(t, c, r, "data: third")
}

// TestTakeOverNoLastChunkAfterFailedWrite: once a write to a taken-over
// connection has failed (a write timeout may have sent part of a chunk),
// nothing more is written on it: a last chunk after part of a chunk would
// be read by the client as the end of that chunk's event, truncated.
func TestTakeOverNoLastChunkAfterFailedWrite(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	var e endings
	h := NewHandler(b, &Options{KeepAlive: time.Hour, Observer: e.observer()})
	srv := httptest.NewUnstartedServer(h)
	fl := &failListener{Listener: srv.Listener, marker: []byte("partial-me")}
	srv.Listener = fl
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := net.Dial("tcp", addrOf(srv.URL))
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "GET /?topic=t HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	er := newEventReader(resp.Body, 0)
	ev, err := er.next()
	require.NoError(t, err)
	require.Equal(t, "sb-open", ev.Type)
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	publish(t, b, "t", "partial-me"+strings.Repeat("x", 1000), nil)
	ev, err = er.next()
	require.Error(t, err, "the event cut by the failed write must not reach the client, got %+v", ev)
	require.Eventually(t, func() bool { return h.Active() == 0 }, 5*time.Second, time.Millisecond)
	require.Equal(t, []transport.EndReason{transport.EndSlowConsumer}, e.get())
	require.Zero(t, fl.after.Load(), "bytes written after the failed write")
}

// failListener's connections fail the first write holding marker as a
// write timeout does after sending part of it, and count the bytes
// written after that.
type failListener struct {
	net.Listener
	marker []byte
	after  atomic.Int64
}

func (l *failListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &failConn{Conn: c, l: l}, nil
}

type failConn struct {
	net.Conn
	l      *failListener
	failed atomic.Bool
}

func (c *failConn) Write(p []byte) (int, error) {
	if c.failed.Load() {
		c.l.after.Add(int64(len(p)))
		return c.Conn.Write(p)
	}
	if bytes.Contains(p, c.l.marker) {
		c.failed.Store(true)
		n, _ := c.Conn.Write(p[:len(p)/2])
		return n, &net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	return c.Conn.Write(p)
}

// TestTakeOverCloseDuringGracefulEndWritesNothing: Close cuts a stream at
// once without writing to it, also when it comes while the stream ends
// gracefully, between finish's look at the cut and the deadline it sets
// for the last chunk (which replaced Cut's deadline in the past, so the
// last chunk was written after the cut, and could block a second).
func TestTakeOverCloseDuringGracefulEndWritesNothing(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, &Options{KeepAlive: time.Hour, WriteTimeout: 100 * time.Millisecond})
	srv := httptest.NewUnstartedServer(h)
	hl := &hookListener{Listener: srv.Listener}
	hl.onLongDeadline = func(c *hookConn) {
		// finish is about to write the last chunk: Close comes now, and
		// this goroutine goes on once Close has cut the connection.
		go func() { _ = h.Close() }()
		<-c.cut
	}
	srv.Listener = hl
	srv.Start()
	t.Cleanup(srv.Close)
	rawGet(t, addrOf(srv.URL), "/?topic=t", "HTTP/1.1")
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.Shutdown(ctx)
	require.NoError(t, h.Close())
	require.Zero(t, hl.afterCut.Load(), "bytes written after Close cut the stream")
}

// hookListener's connections call onLongDeadline (once) when a write
// deadline more than half a second away is set, before setting it, and
// count the bytes written after a deadline in the past was set (Cut's).
type hookListener struct {
	net.Listener
	onLongDeadline func(*hookConn)
	afterCut       atomic.Int64
}

func (l *hookListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &hookConn{Conn: c, l: l, cut: make(chan struct{})}, nil
}

type hookConn struct {
	net.Conn
	l       *hookListener
	hooked  atomic.Bool
	cutOnce sync.Once
	cut     chan struct{}
}

func (c *hookConn) SetWriteDeadline(t time.Time) error {
	now := time.Now()
	if !t.After(now) {
		c.cutOnce.Do(func() { close(c.cut) })
	} else if t.Sub(now) > 500*time.Millisecond && c.hooked.CompareAndSwap(false, true) {
		c.l.onLongDeadline(c)
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *hookConn) Write(p []byte) (int, error) {
	select {
	case <-c.cut:
		c.l.afterCut.Add(int64(len(p)))
	default:
	}
	return c.Conn.Write(p)
}
