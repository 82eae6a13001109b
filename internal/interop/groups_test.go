package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

// tenantAuth names the caller by its bearer token or MQTT username, lets
// everyone read public/…, alice join her "workers" group and anyone join
// groups named "<subject>-…".
var tenantAuth = &transport.Auth{
	Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
		return &transport.Identity{Subject: c.Token + c.Username}, nil
	},
	Authorize: func(_ context.Context, id *transport.Identity, a transport.Action, topic string) error {
		switch {
		case a == transport.ActionJoin && topic == "workers" && id.Subject == "alice":
			return nil
		case a == transport.ActionJoin && strings.HasPrefix(topic, id.Subject+"-"):
			return nil
		case a == transport.ActionSubscribe && strings.HasPrefix(topic, "public/"):
			return nil
		}
		return fmt.Errorf("%s may not %s %s", id.Subject, a, topic)
	},
}

// TestGroupJoinAcrossTransports (issue 13, group hijack): with one Auth
// over one broker, alice's "workers" group keeps every job while bob, who
// may read public/jobs, tries to join it with a WebSocket subscribe, a
// grpc-go Subscribe and Session, and a paho $share/workers/public/jobs.
func TestGroupJoinAcrossTransports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := pubsub.NewMemory(nil)
	wsH := ws.NewHandler(b, &ws.Options{Auth: tenantAuth})
	path, g := grpcx.NewHandler(b, &grpcx.Options{Auth: tenantAuth})
	mux := http.NewServeMux()
	mux.Handle("/ws", wsH)
	mux.Handle(path, g)
	srv := httptest.NewUnstartedServer(mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	mq, err := mqttx.NewServer(b, &mqttx.ServerOptions{Auth: tenantAuth})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- mq.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, mq.Close())
		require.ErrorIs(t, <-served, mqttx.ErrServerClosed)
		require.NoError(t, wsH.Close())
		require.NoError(t, g.Close())
		srv.Close()
		require.NoError(t, b.Close())
	})
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	wsDial := func(who string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{ws.Subprotocol},
			HTTPHeader: http.Header{"Authorization": {"Bearer " + who}}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.CloseNow() })
		return c
	}
	wsRead := func(c *websocket.Conn) map[string]any {
		_, b, err := c.Read(ctx)
		require.NoError(t, err)
		var f map[string]any
		require.NoError(t, json.Unmarshal(b, &f))
		return f
	}
	sub := `{"type":"subscribe","id":"s","filter":"public/jobs","group":"workers"}`

	alice := wsDial("alice")
	require.NoError(t, alice.Write(ctx, websocket.MessageText, []byte(sub)))
	require.Equal(t, "subscribed", wsRead(alice)["type"])

	// WebSocket: an error frame "forbidden" for the subscription.
	bob := wsDial("bob")
	require.NoError(t, bob.Write(ctx, websocket.MessageText, []byte(sub)))
	f := wsRead(bob)
	require.Equal(t, "error", f["type"], "frame %v", f)
	require.Equal(t, "forbidden", f["code"])

	// gRPC (grpc-go): PermissionDenied for Subscribe and in a Session.
	cc, err := grpc.NewClient(strings.TrimPrefix(srv.URL, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	gc := grpcgo.NewPubSubServiceClient(cc)
	bctx := withToken(ctx, "bob")
	st, err := gc.Subscribe(bctx, &pb.SubscribeRequest{Filters: []string{"public/jobs"}, Group: "workers"})
	require.NoError(t, err)
	_, err = st.Recv()
	requireStatus(t, codes.PermissionDenied, err)
	sess, err := gc.Session(bctx)
	require.NoError(t, err)
	require.NoError(t, sess.Send(&pb.SessionRequest{Id: "s", Command: &pb.SessionRequest_Subscribe{
		Subscribe: &pb.SessionSubscribe{Filter: "public/jobs", Group: "workers"}}}))
	r, err := sess.Recv()
	require.NoError(t, err)
	require.Equal(t, "permission_denied", r.GetResult().GetCode(), "%v", r)
	require.NoError(t, sess.CloseSend())

	// MQTT (paho, v5): SUBACK 0x87 for $share/workers/public/jobs.
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	pc := paho.NewClient(paho.ClientConfig{ClientID: "bob", Conn: conn})
	ack, err := pc.Connect(ctx, &paho.Connect{ClientID: "bob", CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, Username: "bob"})
	require.NoError(t, err)
	require.Zero(t, ack.ReasonCode)
	t.Cleanup(func() {
		_ = pc.Disconnect(&paho.Disconnect{})
		<-pc.Done()
	})
	sack, err := pc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "$share/workers/public/jobs"}, {Topic: "$share/bob-workers/public/jobs"}}})
	require.NotNil(t, sack, "%v", err)
	require.Equal(t, []byte{0x87, 0}, sack.Reasons)

	// alice's one member receives every job.
	for i := range 6 {
		_, err := b.Publish(ctx, pubsub.Message{Topic: "public/jobs", Data: []byte(strconv.Itoa(i))})
		require.NoError(t, err)
	}
	for i := range 6 {
		f := wsRead(alice)
		require.Equal(t, "message", f["type"], "frame %v", f)
		require.Equal(t, float64(i), f["data"])
	}
}
