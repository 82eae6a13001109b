package ws

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// maskedFrame is a client text frame (masked, as a client must).
func maskedFrame(payload string) []byte {
	key := [4]byte{1, 2, 3, 4}
	b := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	default:
		b = append(b, 0x80|126, 0, 0)
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	}
	b = append(b, key[:]...)
	for i := range len(payload) {
		b = append(b, payload[i]^key[i%4])
	}
	return b
}

// TestFramesBehindHandshake: client frames that arrive with the upgrade
// request, in the same packet (net/http has read them into its buffer
// before the hijack), are served first, in order.
func TestFramesBehindHandshake(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.srv.URL, "http://"))
	require.NoError(t, err)
	defer c.Close()
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: " + Subprotocol + "\r\n\r\n"
	msg := append([]byte(req), maskedFrame(`{"type":"ping","id":"a"}`)...)
	msg = append(msg, maskedFrame(`{"type":"publish","id":"b","topic":"x","data":"`+strings.Repeat("b", 300)+`"}`)...)
	msg = append(msg, maskedFrame(`{"type":"subscribe","id":"s","filter":"t"}`)...)
	_, err = c.Write(msg)
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second))) // a bound, not a timing assertion
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	readFrame := func() string {
		t.Helper()
		var h [2]byte
		_, err := io.ReadFull(br, h[:])
		require.NoError(t, err)
		require.Equal(t, byte(0x81), h[0])
		n := int(h[1])
		if n == 126 {
			var l [2]byte
			_, err := io.ReadFull(br, l[:])
			require.NoError(t, err)
			n = int(binary.BigEndian.Uint16(l[:]))
		}
		p := make([]byte, n)
		_, err = io.ReadFull(br, p)
		require.NoError(t, err)
		return string(p)
	}
	require.Contains(t, readFrame(), `"id":"a"`)
	require.Contains(t, readFrame(), `"ack"`)
	require.Contains(t, readFrame(), `"subscribed"`)
	publish(t, ts.broker, "t", `1`)
	require.Contains(t, readFrame(), `"message"`)
}

// TestTLS: over TLS (a connection without raw socket access) reads and
// writes go through the connection itself.
func TestTLS(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewTLSServer(h)
	defer func() { _ = h.Close(); srv.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a bound, not a timing assertion
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https"), &websocket.DialOptions{
		Subprotocols: []string{Subprotocol}, HTTPClient: srv.Client()})
	require.NoError(t, err)
	defer c.CloseNow()
	r := &rawConn{t: t, c: c}
	r.send(`{"type":"subscribe","id":"s","filter":"t"}`)
	r.expect("subscribed", "s")
	for i := range 100 {
		publish(t, b, "t", `"`+strings.Repeat("x", i*100)+`"`)
	}
	for i := range 100 {
		m := r.expect("message", "")
		require.Len(t, m["data"], i*100)
	}
	require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
}
