package interop

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/paho"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/internal/grpcgo"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/ratelimit"
	"github.com/switchboard-go/switchboard/ws"
)

// limitServer mounts REST, WebSocket and gRPC on one HTTP server and the
// MQTT server on TCP, all with auth; it returns the HTTP base URL and the
// MQTT address.
func limitServer(t *testing.T, auth *transport.Auth) (string, string) {
	b := pubsub.NewMemory(nil)
	wsH := ws.NewHandler(b, &ws.Options{Auth: auth})
	sseH := sse.NewHandler(b, &sse.Options{Auth: auth})
	path, g := grpcx.NewHandler(b, &grpcx.Options{Auth: auth})
	mux := http.NewServeMux()
	mux.Handle("/events", sseH)
	mux.Handle("/topics/", transport.NewRESTHandler(b, &transport.RESTOptions{Auth: auth}))
	mux.Handle("/ws", wsH)
	mux.Handle(path, g)
	srv := httptest.NewUnstartedServer(mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	mq, err := mqttx.NewServer(b, &mqttx.ServerOptions{Auth: auth})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- mq.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, mq.Close())
		require.ErrorIs(t, <-served, mqttx.ErrServerClosed)
		require.NoError(t, wsH.Close())
		require.NoError(t, sseH.Close())
		require.NoError(t, g.Close())
		srv.Close()
		require.NoError(t, b.Close())
	})
	return srv.URL, ln.Addr().String()
}

// byBearer names a client by its bearer token or MQTT user name.
var byBearer = &transport.Auth{Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
	return &transport.Identity{Subject: c.Token + c.Username}, nil
}}

// TestPublishRateLimitAcrossTransports (issue 16): one publish per
// identity, then each transport answers the next as a limit, not a
// refusal: REST 429 with Retry-After, a WebSocket "rate_limited" error
// frame, gRPC ResourceExhausted, MQTT PUBACK 0x97.
func TestPublishRateLimitAcrossTransports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lim := ratelimit.New(&ratelimit.Options{PublishRate: 0.01, PublishBurst: 1, ConnectRate: -1})
	base, mqttAddr := limitServer(t, lim.Wrap(byBearer))

	t.Run("rest", func(t *testing.T) {
		post := func() *http.Response {
			req, _ := http.NewRequestWithContext(ctx, "POST", base+"/topics/t", strings.NewReader("x"))
			req.Header.Set("Authorization", "Bearer rest-user")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp
		}
		require.Equal(t, http.StatusOK, post().StatusCode)
		resp := post()
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		require.NotEmpty(t, resp.Header.Get("Retry-After"))
	})

	t.Run("ws", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{
			Subprotocols: []string{ws.Subprotocol}, HTTPHeader: http.Header{"Authorization": {"Bearer ws-user"}}})
		require.NoError(t, err)
		defer c.CloseNow()
		codes := []string{}
		for i := range 2 {
			f, _ := json.Marshal(map[string]any{"type": "publish", "id": string(rune('a' + i)), "topic": "t", "data": 1})
			require.NoError(t, c.Write(ctx, websocket.MessageText, f))
			_, data, err := c.Read(ctx)
			require.NoError(t, err)
			var r struct{ Type, Code string }
			require.NoError(t, json.Unmarshal(data, &r))
			codes = append(codes, r.Type+":"+r.Code)
		}
		require.Equal(t, []string{"ack:", "error:rate_limited"}, codes)
	})

	t.Run("grpc", func(t *testing.T) {
		cc, err := grpc.NewClient(strings.TrimPrefix(base, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer cc.Close()
		gc := grpcgo.NewPubSubServiceClient(cc)
		gctx := withToken(ctx, "grpc-user")
		_, err = gc.Publish(gctx, &pb.PublishRequest{Topic: "t", Data: []byte("x")})
		require.NoError(t, err)
		_, err = gc.Publish(gctx, &pb.PublishRequest{Topic: "t", Data: []byte("x")})
		requireStatus(t, codes.ResourceExhausted, err)
	})

	t.Run("mqtt", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", mqttAddr, 5*time.Second)
		require.NoError(t, err)
		pc := paho.NewClient(paho.ClientConfig{ClientID: "mqtt-user", Conn: conn})
		_, err = pc.Connect(ctx, &paho.Connect{ClientID: "mqtt-user", CleanStart: true, KeepAlive: 30,
			UsernameFlag: true, Username: "mqtt-user"})
		require.NoError(t, err)
		defer func() {
			_ = pc.Disconnect(&paho.Disconnect{})
			<-pc.Done()
		}()
		r, err := pc.Publish(ctx, &paho.Publish{Topic: "t", QoS: 1, Payload: []byte("x")})
		require.NoError(t, err)
		require.Zero(t, r.ReasonCode)
		r, err = pc.Publish(ctx, &paho.Publish{Topic: "t", QoS: 1, Payload: []byte("x")})
		require.NotNil(t, r, "%v", err)
		require.Equal(t, byte(0x97), r.ReasonCode, "%v", err)
	})
}

// TestConnectRateLimitAcrossTransports: one connection attempt per IP,
// then the WebSocket upgrade is closed with 4429 and MQTT CONNACK is 0x97.
func TestConnectRateLimitAcrossTransports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("ws", func(t *testing.T) {
		lim := ratelimit.New(&ratelimit.Options{ConnectRate: 0.01, ConnectBurst: 1})
		base, _ := limitServer(t, lim.Wrap(byBearer))
		dial := func() error {
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{Subprotocols: []string{ws.Subprotocol}})
			if err != nil {
				return err
			}
			defer c.CloseNow()
			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)))
			_, _, err = c.Read(ctx)
			return err
		}
		require.NoError(t, dial())
		err := dial()
		require.Equal(t, ws.CloseRateLimited, websocket.CloseStatus(err), "%v", err)
	})

	t.Run("mqtt", func(t *testing.T) {
		lim := ratelimit.New(&ratelimit.Options{ConnectRate: 0.01, ConnectBurst: 1})
		_, mqttAddr := limitServer(t, lim.Wrap(byBearer))
		connect := func(id string) (*paho.Connack, error) {
			conn, err := net.DialTimeout("tcp", mqttAddr, 5*time.Second)
			require.NoError(t, err)
			pc := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: conn})
			ack, err := pc.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
			if err == nil {
				_ = pc.Disconnect(&paho.Disconnect{})
			}
			<-pc.Done()
			return ack, err
		}
		ack, err := connect("one")
		require.NoError(t, err)
		require.Zero(t, ack.ReasonCode)
		ack, err = connect("two")
		require.Error(t, err)
		require.NotNil(t, ack)
		require.Equal(t, byte(0x97), ack.ReasonCode)
	})
}

// TestMaxConnectionsAcrossTransports: one open connection per IP; a second
// one is refused as a limit while the first lasts (so the count outlives
// the WebSocket upgrade's ServeHTTP), and accepted once it has closed.
func TestMaxConnectionsAcrossTransports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server := func() (string, string) {
		lim := ratelimit.New(&ratelimit.Options{ConnectRate: -1, MaxConnectionsPerIP: 1})
		return limitServer(t, lim.Wrap(byBearer))
	}

	t.Run("ws", func(t *testing.T) {
		base, _ := server()
		dial := func() (*websocket.Conn, error) {
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{Subprotocols: []string{ws.Subprotocol}})
			require.NoError(t, err)
			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)))
			if _, _, err := c.Read(ctx); err != nil {
				c.CloseNow()
				return nil, err
			}
			return c, nil
		}
		first, err := dial()
		require.NoError(t, err)
		_, err = dial()
		require.Equal(t, ws.CloseRateLimited, websocket.CloseStatus(err), "%v", err)
		require.NoError(t, first.Close(websocket.StatusNormalClosure, ""))
		require.Eventually(t, func() bool { // the server ends the session after the close handshake
			c, err := dial()
			if err == nil {
				c.CloseNow()
			}
			return err == nil
		}, 10*time.Second, 10*time.Millisecond)
	})

	t.Run("sse", func(t *testing.T) {
		base, _ := server()
		open := func(ctx context.Context) *http.Response {
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events?topic=t", nil)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			return resp
		}
		sctx, stop := context.WithCancel(ctx)
		first := open(sctx)
		require.Equal(t, http.StatusOK, first.StatusCode)
		second := open(ctx)
		second.Body.Close()
		require.Equal(t, http.StatusTooManyRequests, second.StatusCode)
		require.NotEmpty(t, second.Header.Get("Retry-After"))
		stop()
		first.Body.Close()
		require.Eventually(t, func() bool {
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			resp := open(rctx)
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 10*time.Second, 10*time.Millisecond)
	})

	t.Run("mqtt", func(t *testing.T) {
		_, addr := server()
		connect := func(id string) (*paho.Client, *paho.Connack, error) {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			require.NoError(t, err)
			pc := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: conn})
			ack, err := pc.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
			if err != nil {
				<-pc.Done()
			}
			return pc, ack, err
		}
		first, _, err := connect("one")
		require.NoError(t, err)
		_, ack, err := connect("two")
		require.Error(t, err)
		require.NotNil(t, ack)
		require.Equal(t, byte(0x97), ack.ReasonCode)
		require.NoError(t, first.Disconnect(&paho.Disconnect{}))
		<-first.Done()
		require.Eventually(t, func() bool {
			pc, _, err := connect("three")
			if err == nil {
				_ = pc.Disconnect(&paho.Disconnect{})
				<-pc.Done()
			}
			return err == nil
		}, 10*time.Second, 10*time.Millisecond)
	})
}
