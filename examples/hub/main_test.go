package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startHub runs the hub on a random port and returns its base URL; the hub
// stops when the test ends.
func startHub(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-mqtt-addr", "127.0.0.1:0"}, args...), io.Discard, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("hub exited: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		http.DefaultClient.CloseIdleConnections()
	})
	return "http://" + addr
}

func TestHubRESTRoundTrip(t *testing.T) {
	base := startHub(t)
	payload := []byte{0, 1, 2, 0xff, '\r', '\n', 'x'}
	resp, err := http.Post(base+"/topics/files/a", "application/octet-stream", bytes.NewReader(payload))
	require.NoError(t, err)
	var pub transport.PublishResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&pub))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, pub.Cursor)

	resp, err = http.Get(base + "/topics/files/%23")
	require.NoError(t, err)
	var hist transport.HistoryResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&hist))
	resp.Body.Close()
	require.Len(t, hist.Messages, 1)
	m, err := transport.DecodeEnvelope(hist.Messages[0])
	require.NoError(t, err)
	require.Equal(t, payload, m.Data, "the same bytes come back")
	require.Equal(t, pub.Cursor, m.Cursor)

	resp, err = http.Post(base+"/topics/bad/+/topic", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// TestHubShutdownTellsClients stops the hub with open clients: its one
// transport.Shutdown call ends the SSE stream cleanly and closes the
// WebSocket with 1001 (going away), and run returns without error.
func TestHubShutdownTellsClients(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-mqtt-addr", "off"}, io.Discard, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("hub exited: %v", err)
	}
	exited := false
	t.Cleanup(func() { // a failing require below still stops the hub
		if !exited {
			cancel()
			<-done
		}
	})

	resp, err := http.Get(base + "/events?topic=demo/%23")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{Subprotocols: []string{"switchboard.v1"}})
	require.NoError(t, err)
	defer c.CloseNow()

	cancel()
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, err, "the SSE stream ends cleanly, so EventSource reconnects")
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second) // a bound, not a timing assertion
	defer rcancel()
	_, _, err = c.Read(rctx)
	require.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err), "%v", err)
	exited = true
	require.NoError(t, <-done)
	http.DefaultClient.CloseIdleConnections()
}
