package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHubIdleTimeout is the idle keep-alive attack: a client opens a
// connection, makes one request and then keeps the connection idle. The
// hub's server closes it after -idle-timeout, while an SSE stream (a long
// request with no traffic for longer than that) is left alone.
func TestHubIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	base := startHub(t, "-idle-timeout", idle.String())
	addr := strings.TrimPrefix(base, "http://")

	stream, err := http.Get(base + "/events?topic=idle/%23")
	require.NoError(t, err)
	defer stream.Body.Close()
	require.Equal(t, http.StatusOK, stream.StatusCode)

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = fmt.Fprintf(c, "GET /topics/idle/x HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	require.NoError(t, err)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.False(t, resp.Close, "a keep-alive connection")
	answered := time.Now()

	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = r.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the idle keep-alive connection is still open after 5 s")
	t.Logf("idle keep-alive connection closed %v after its last answer (IdleTimeout %v)", time.Since(answered).Round(time.Millisecond), idle)

	// The SSE stream, idle for longer than that, still delivers.
	pub, err := http.Post(base+"/topics/idle/x", "text/plain", strings.NewReader("still here"))
	require.NoError(t, err)
	pub.Body.Close()
	require.Equal(t, http.StatusOK, pub.StatusCode)
	sc := bufio.NewScanner(stream.Body)
	for sc.Scan() {
		if sc.Text() == "data: still here" { // -sse-format data, the default: the payload itself
			return
		}
	}
	t.Fatalf("the SSE stream ended: %v", sc.Err())
}
