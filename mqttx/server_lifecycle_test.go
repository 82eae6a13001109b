package mqttx_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// lifeServer is an mqttx.Server on a loopback TCP listener and behind an
// httptest server for MQTT over WebSocket, stopped by the test.
type lifeServer struct {
	mem    *pubsub.Memory
	srv    *mqttx.Server
	addr   string
	wsURL  string
	served chan error
}

func startLifeServer(t *testing.T) *lifeServer {
	t.Helper()
	mem := newMemory(t)
	srv, err := mqttx.NewServer(mem, nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ls := &lifeServer{mem: mem, srv: srv, addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { ls.served <- srv.Serve(ln) }()
	hs := httptest.NewServer(srv)
	ls.wsURL = "ws" + strings.TrimPrefix(hs.URL, "http")
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		hs.Close()
	})
	return ls
}

// lifeClient is a paho MQTT 5 client that reports the server's DISCONNECT.
type lifeClient struct {
	c          *paho.Client
	disconnect chan *paho.Disconnect
}

func connectLife(t *testing.T, conn net.Conn, id string) *lifeClient {
	t.Helper()
	lc := &lifeClient{disconnect: make(chan *paho.Disconnect, 1)}
	lc.c = connectPaho(t, paho.ClientConfig{
		ClientID:           id,
		Conn:               conn,
		OnServerDisconnect: func(d *paho.Disconnect) { lc.disconnect <- d },
		OnClientError:      func(error) {},
	}, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
	return lc
}

func (ls *lifeServer) dialTCP(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", ls.addr, 5*time.Second)
	require.NoError(t, err)
	return c
}

// dialWS opens MQTT over WebSocket, or returns the refusing response.
func (ls *lifeServer) dialWS(t *testing.T) (net.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, ls.wsURL, &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		return nil, res, err
	}
	return websocket.NetConn(context.Background(), c, websocket.MessageBinary), res, nil
}

// requireRefused checks that the server takes no new connections: Serve
// returns ErrServerClosed at once and WebSocket upgrades get 503 with
// Retry-After.
func (ls *lifeServer) requireRefused(t *testing.T) {
	t.Helper()
	require.ErrorIs(t, <-ls.served, mqttx.ErrServerClosed)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, ls.srv.Serve(ln), mqttx.ErrServerClosed)
	_, res, err := ls.dialWS(t)
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	require.NotEmpty(t, res.Header.Get("Retry-After"))
}

// Shutdown sends DISCONNECT 0x8B to every client, TCP and WebSocket, closes
// a connection that has not sent CONNECT, and returns once they are all
// gone; Active counts the connections.
func TestServerLifecycleShutdown(t *testing.T) {
	ls := startLifeServer(t)
	tcp := connectLife(t, ls.dialTCP(t), "tcp")
	wsConn, _, err := ls.dialWS(t)
	require.NoError(t, err)
	ws := connectLife(t, wsConn, "ws")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = tcp.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "a/#", QoS: 1}}})
	require.NoError(t, err)
	require.Equal(t, 2, ls.srv.Active())
	idle := dialRaw(t, ls.addr, 5) // never sends CONNECT

	require.NoError(t, ls.srv.Shutdown(ctx))
	require.Zero(t, ls.srv.Active(), "Shutdown waits for the connections")
	for _, c := range []*lifeClient{tcp, ws} {
		select {
		case d := <-c.disconnect:
			require.Equal(t, byte(0x8B), d.ReasonCode)
		case <-ctx.Done():
			t.Fatal("no DISCONNECT from the server")
		}
		<-c.c.Done()
	}
	require.Empty(t, idle.closed())
	ls.requireRefused(t)
	require.NoError(t, ls.srv.Shutdown(ctx), "idempotent")
	require.NoError(t, ls.srv.Close(), "Close after Shutdown")
}

// Close cuts every connection at once: no DISCONNECT, no will, and the
// connections are gone when it returns.
func TestServerLifecycleClose(t *testing.T) {
	ls := startLifeServer(t)
	watch, err := ls.mem.Subscribe(context.Background(), "wills", nil)
	require.NoError(t, err)
	defer watch.Close()
	rc := dialRaw(t, ls.addr, 5)
	rc.connect("raw", func(pk *packets.Packet) {
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, "wills", []byte("x")
	})
	rc.subscribe(1, 1, "a/#")
	wsConn, _, err := ls.dialWS(t)
	require.NoError(t, err)
	ws := connectLife(t, wsConn, "ws")
	require.Equal(t, 2, ls.srv.Active())

	require.NoError(t, ls.srv.Close())
	require.Zero(t, ls.srv.Active(), "Close waits for the connections")
	require.Empty(t, rc.closed(), "Close sends no DISCONNECT")
	<-ws.c.Done()
	select {
	case d := <-ws.disconnect:
		t.Fatalf("DISCONNECT %#x on Close", d.ReasonCode)
	default:
	}
	select {
	case m := <-watch.C():
		t.Fatalf("will published on Close: %v", m)
	default:
	}
	ls.requireRefused(t)
	require.NoError(t, ls.srv.Close(), "idempotent")
	require.NoError(t, ls.srv.Shutdown(context.Background()), "Shutdown after Close")
}

// Shutdown and Close may race; both return once every connection is gone.
func TestServerLifecycleShutdownRacesClose(t *testing.T) {
	ls := startLifeServer(t)
	for _, id := range []string{"a", "b", "c"} {
		connectLife(t, ls.dialTCP(t), id)
	}
	require.Equal(t, 3, ls.srv.Active())
	done := make(chan error, 1)
	go func() { done <- ls.srv.Shutdown(context.Background()) }()
	require.NoError(t, ls.srv.Close())
	require.Zero(t, ls.srv.Active())
	require.NoError(t, <-done)
	require.Zero(t, ls.srv.Active())
	require.ErrorIs(t, <-ls.served, mqttx.ErrServerClosed)
}
