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

// maskedControl is a client control frame (opcode op) carrying p.
func maskedControl(op byte, p string) []byte {
	key := [4]byte{9, 8, 7, 6}
	b := []byte{0x80 | op, 0x80 | byte(len(p))}
	b = append(b, key[:]...)
	for i := range len(p) {
		b = append(b, p[i]^key[i%4])
	}
	return b
}

// TestPongsWhileIdle: the pongs of an idle client are consumed while the
// reader waits for data (whole ones), or by coder/websocket (split ones,
// or followed by a message); either way they count as answers, the
// connection stays, and the messages around them are read intact.
func TestPongsWhileIdle(t *testing.T) {
	// A ping every 200 ms, each answered within 200 ms or the connection
	// is dropped: six of them outlast several deadlines.
	ts := newTestServer(t, &Options{KeepAlive: 20 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}, nil)
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.srv.URL, "http://"))
	require.NoError(t, err)
	defer c.Close()
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: " + Subprotocol + "\r\n\r\n"
	_, err = c.Write([]byte(req))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second))) // a bound, not a timing assertion
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	// readFrame returns the next frame's opcode and payload.
	readFrame := func() (byte, string) {
		t.Helper()
		var h [2]byte
		_, err := io.ReadFull(br, h[:])
		require.NoError(t, err)
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
		return h[0] & 0x0f, string(p)
	}
	pings := 0
	// nextPing answers frames until the next ping and returns its payload.
	nextPing := func() string {
		t.Helper()
		for {
			op, p := readFrame()
			if op == 0x9 {
				pings++
				return p
			}
		}
	}
	for i := range 6 {
		p := nextPing()
		pong := maskedControl(0xA, p)
		switch i % 3 {
		case 0: // whole
			_, err = c.Write(pong)
		case 1: // split in two writes
			_, err = c.Write(pong[:3])
			require.NoError(t, err)
			time.Sleep(5 * time.Millisecond) // let the first part arrive alone
			_, err = c.Write(pong[3:])
		case 2: // followed by a message in the same write
			_, err = c.Write(append(pong, maskedFrame(`{"type":"ping","id":"m"}`)...))
		}
		require.NoError(t, err)
	}
	_, err = c.Write(maskedFrame(`{"type":"ping","id":"last"}`))
	require.NoError(t, err)
	for {
		op, p := readFrame()
		if op == 0x9 {
			_, err = c.Write(maskedControl(0xA, p))
			require.NoError(t, err)
			continue
		}
		if strings.Contains(p, `"last"`) {
			break
		}
		require.Contains(t, p, `"pong"`)
	}
	require.Equal(t, 1, ts.h.Active(), "answered pings keep the connection")
	require.GreaterOrEqual(t, pings, 6)
}
