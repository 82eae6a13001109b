package ws

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// tinyBuffers makes the kernel socket buffers small, so a client that stops
// reading blocks the server's writes after a few KiB instead of megabytes.
func tinyBuffers(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		if serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

type tinyListener struct{ net.Listener }

func (l tinyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
		_ = tc.SetReadBuffer(4096)
	}
	return c, err
}

// closeCounter is a slog.Handler counting "ws: disconnected" events by code.
type closeCounter struct{ slow atomic.Int32 }

func (c *closeCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *closeCounter) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "code" && a.Value.Int64() == int64(CloseSlowConsumer) {
			c.slow.Add(1)
		}
		return true
	})
	return nil
}
func (c *closeCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *closeCounter) WithGroup(string) slog.Handler      { return c }

func newTinyServer(t *testing.T, b pubsub.Broker, opts *Options) (*Handler, string) {
	h := NewHandler(b, opts)
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = tinyListener{srv.Listener}
	srv.Start()
	t.Cleanup(func() { _ = h.Close(); srv.Close() })
	return h, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func tinyHTTPClient() *http.Client {
	d := &net.Dialer{Control: tinyBuffers}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

var payload1K = `"` + strings.Repeat("x", 1000) + `"`

func TestSlowConsumerClosedAfterLastDeliveredThenResumes(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	_, url := newTinyServer(t, b, &Options{Buffer: 8})
	ctx := context.Background()
	hc := tinyHTTPClient()
	defer hc.CloseIdleConnections()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}, HTTPClient: hc})
	require.NoError(t, err)
	defer c.CloseNow()
	r := &rawConn{t: t, c: c}
	r.send(`{"type":"subscribe","id":"s","filter":"seq"}`)
	r.expect("subscribed", "s")

	const n = 2000
	for i := range n {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "seq", Data: []byte(`{"i":` + strconv.Itoa(i) + `,"p":` + payload1K + `}`)})
		require.NoError(t, err)
	}
	// Now read: an unbroken prefix of the messages, then close 4429.
	next, last := 0, ""
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			require.Equal(t, CloseSlowConsumer, websocket.CloseStatus(err), "err %v", err)
			break
		}
		f, err := decodeServerFrame(data)
		require.NoError(t, err)
		require.Equal(t, "message", f.Type)
		require.Contains(t, string(f.Data), fmt.Sprintf(`{"i":%d,`, next))
		next, last = next+1, f.Cursor
	}
	require.Greater(t, next, 0)
	require.Less(t, next, n, "the consumer was too slow for all of them")

	// Resume from the last cursor received: the rest, in order, once.
	r2 := &rawConn{t: t, c: mustDial(t, url)}
	r2.send(fmt.Sprintf(`{"type":"subscribe","id":"s","filter":"seq","since":%q}`, last))
	r2.expect("subscribed", "s")
	for ; next < n; next++ {
		m := r2.expect("message", "")
		require.Equal(t, float64(next), m["data"].(map[string]any)["i"])
	}
}

func mustDial(t *testing.T, url string) *websocket.Conn {
	c, _, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	require.NoError(t, err)
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func TestClientSlowConsumerLosesNothing(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	counter := &closeCounter{}
	_, url := newTinyServer(t, b, &Options{Buffer: 8, Logger: slog.New(counter)})
	hc := tinyHTTPClient()
	defer hc.CloseIdleConnections()
	c := dialClient(t, url, &ClientOptions{HTTPClient: hc, Buffer: 1,
		MinBackoff: fastBackoff.MinBackoff, MaxBackoff: fastBackoff.MaxBackoff})
	sub, err := c.Subscribe(context.Background(), "seq", nil)
	require.NoError(t, err)

	const n = 2000
	for i := range n {
		_, err := b.Publish(context.Background(), pubsub.Message{Topic: "seq", Data: []byte(`{"i":` + strconv.Itoa(i) + `,"p":` + payload1K + `}`)})
		require.NoError(t, err)
	}
	for i := range n {
		ev := next(t, sub)
		require.False(t, ev.Gap)
		require.Contains(t, string(ev.Message.Data), fmt.Sprintf(`{"i":%d,`, i))
	}
	require.NoError(t, c.Close())
	require.Positive(t, counter.slow.Load(), "the server closed the slow client at least once (4429)")
}

// TestStalledReaderDroppedByWriteTimeout: with a buffer too large to
// overflow, a client that stops reading is dropped when the writer's
// blocked batch write outlives WriteTimeout (the write path that takes
// several frames per system call), not kept forever; what it read before
// is an unbroken prefix.
func TestStalledReaderDroppedByWriteTimeout(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	gone := make(disconnects, 1)
	h, url := newTinyServer(t, b, &Options{Buffer: 100000, WriteTimeout: 200 * time.Millisecond, KeepAlive: -1, Logger: slog.New(gone)})
	ctx := context.Background()
	hc := tinyHTTPClient()
	defer hc.CloseIdleConnections()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}, HTTPClient: hc})
	require.NoError(t, err)
	defer c.CloseNow()
	r := &rawConn{t: t, c: c}
	r.send(`{"type":"subscribe","id":"s","filter":"seq"}`)
	r.expect("subscribed", "s")
	const n = 2000 // ~2 MB: far more than the socket buffers hold
	for i := range n {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "seq", Data: []byte(`{"i":` + strconv.Itoa(i) + `,"p":` + payload1K + `}`)})
		require.NoError(t, err)
	}
	select {
	case reason := <-gone:
		require.Equal(t, writeTimeoutReason, reason)
	case <-time.After(20 * time.Second): // a bound, not a timing assertion
		t.Fatal("a stalled reader was not dropped")
	}
	require.Equal(t, 0, h.Active())
	next := 0
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			break
		}
		f, err := decodeServerFrame(data)
		require.NoError(t, err)
		require.Contains(t, string(f.Data), fmt.Sprintf(`{"i":%d,`, next))
		next++
	}
	require.Less(t, next, n)
}
