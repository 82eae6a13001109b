package mqttx_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// startServer serves an mqttx.Server over b on a random loopback port.
func startServer(t *testing.T, b pubsub.Broker, opts *mqttx.ServerOptions) (*mqttx.Server, string) {
	t.Helper()
	srv, err := mqttx.NewServer(b, opts)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-served, mqttx.ErrServerClosed)
	})
	return srv, ln.Addr().String()
}

func newMemory(t *testing.T) *pubsub.Memory {
	m := pubsub.NewMemory(nil)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// device is a paho (MQTT 5) client connected to the server.
type device struct {
	c    *paho.Client
	msgs chan *paho.Publish
}

func connectDevice(t *testing.T, addr, id string, mod func(*paho.Connect)) *device {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	d := &device{msgs: make(chan *paho.Publish, 1000)}
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if mod != nil {
		mod(cp)
	}
	d.c = connectPaho(t, paho.ClientConfig{
		ClientID: id,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			d.msgs <- pr.Packet
			return true, nil
		}},
	}, cp)
	return d
}

// connectPaho connects a paho client with CONNECT cp, requires success,
// and disconnects it when the test ends.
func connectPaho(t *testing.T, cfg paho.ClientConfig, cp *paho.Connect) *paho.Client {
	t.Helper()
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	require.NoError(t, err)
	require.Zero(t, ack.ReasonCode)
	t.Cleanup(func() {
		_ = c.Disconnect(&paho.Disconnect{})
		<-c.Done()
	})
	return c
}

func (d *device) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case p := <-d.msgs:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("device got no message within 5s")
		return nil
	}
}

func (d *device) subscribe(t *testing.T, opts ...paho.SubscribeOptions) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := d.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: opts})
	if ack != nil {
		return ack.Reasons
	}
	require.NoError(t, err)
	return nil
}

func TestServerDeviceToBrokerAndBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mem := newMemory(t)
	_, addr := startServer(t, mem, nil)
	watch, err := mem.Subscribe(ctx, "dev/#", nil)
	require.NoError(t, err)
	defer watch.Close()

	sensor := connectDevice(t, addr, "sensor", nil)
	app := connectDevice(t, addr, "app", nil)
	require.Equal(t, []byte{1, 2}, app.subscribe(t,
		paho.SubscribeOptions{Topic: "dev/+/temp", QoS: 1},
		paho.SubscribeOptions{Topic: "cmd/#", QoS: 2}))

	payload := []byte{0, 0xff, 'x', '\n'}
	res, err := sensor.c.Publish(ctx, &paho.Publish{Topic: "dev/s1/temp", QoS: 1, Payload: payload,
		Properties: &paho.PublishProperties{
			User:            paho.UserProperties{{Key: "unit", Value: "C"}},
			ResponseTopic:   "dev/s1/replies",
			CorrelationData: []byte("c-7"),
			ContentType:     "application/x-raw",
		}})
	require.NoError(t, err)
	require.Zero(t, res.ReasonCode)

	// The broker sees it (any transport would), byte-identical.
	m := <-watch.C()
	require.Equal(t, "dev/s1/temp", m.Topic)
	require.Equal(t, payload, m.Data)
	require.Equal(t, map[string]string{
		"unit": "C", mqttx.HeaderQoS: "1", pubsub.HeaderReplyTo: "dev/s1/replies",
		pubsub.HeaderCorrelationID: "c-7", mqttx.HeaderContentType: "application/x-raw",
	}, m.Header)
	// So does the other device, with the MQTT 5 properties.
	p := app.next(t)
	require.Equal(t, "dev/s1/temp", p.Topic)
	require.Equal(t, payload, p.Payload)
	require.Equal(t, byte(1), p.QoS)
	require.Equal(t, "C", p.Properties.User.Get("unit"))
	require.Equal(t, m.ID, p.Properties.User.Get("sb-id"))
	require.Equal(t, "dev/s1/replies", p.Properties.ResponseTopic)
	require.Equal(t, []byte("c-7"), p.Properties.CorrelationData)

	// A message from the broker (another transport) reaches the device at
	// the server's default QoS 1, capped by the granted QoS.
	_, err = mem.Publish(ctx, pubsub.Message{Topic: "cmd/s1/reboot", Data: []byte(`{"now":true}`), Header: map[string]string{"by": "ops"}})
	require.NoError(t, err)
	p = app.next(t)
	require.Equal(t, "cmd/s1/reboot", p.Topic)
	require.Equal(t, `{"now":true}`, string(p.Payload))
	require.Equal(t, byte(1), p.QoS)
	require.Equal(t, "ops", p.Properties.User.Get("by"))
	// QoS 2 end to end.
	_, err = mem.Publish(ctx, pubsub.Message{Topic: "cmd/s1/x", Header: map[string]string{mqttx.HeaderQoS: "2"}})
	require.NoError(t, err)
	require.Equal(t, byte(2), app.next(t).QoS)
	_, err = mem.Publish(ctx, pubsub.Message{Topic: "dev/s2/temp", Header: map[string]string{mqttx.HeaderQoS: "2"}})
	require.NoError(t, err)
	require.Equal(t, byte(1), app.next(t).QoS, "capped at the granted QoS 1")
}

func TestServerRetainedAndWill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mem := newMemory(t)
	_, addr := startServer(t, mem, nil)
	watch, err := mem.Subscribe(ctx, "status/#", nil)
	require.NoError(t, err)
	defer watch.Close()

	// A retained publish from a device is retained by the broker.
	d := connectDevice(t, addr, "d1", nil)
	_, err = d.c.Publish(ctx, &paho.Publish{Topic: "status/d1", QoS: 1, Retain: true, Payload: []byte("online")})
	require.NoError(t, err)
	require.Equal(t, "online", string((<-watch.C()).Data))
	late := connectDevice(t, addr, "late", nil)
	late.subscribe(t, paho.SubscribeOptions{Topic: "status/+", QoS: 1})
	p := late.next(t)
	require.True(t, p.Retain)
	require.Equal(t, "online", string(p.Payload))

	// A will reaches the broker when the client vanishes without
	// DISCONNECT (here MQTT 3.1.1, raw).
	rc := dialRaw(t, addr, 4)
	ack := rc.connect("dying", func(pk *packets.Packet) {
		pk.Connect.WillFlag = true
		pk.Connect.WillTopic = "status/dying"
		pk.Connect.WillPayload = []byte("gone")
		pk.Connect.WillQos = 1
		pk.Connect.WillRetain = true
	})
	require.Zero(t, ack.ReasonCode)
	require.NoError(t, rc.c.Close())
	m := <-watch.C()
	require.Equal(t, "status/dying", m.Topic)
	require.Equal(t, "gone", string(m.Data))
	p = late.next(t)
	require.Equal(t, "status/dying", p.Topic)
	require.False(t, p.Retain)

	// A clean DISCONNECT does not send the will.
	rc = dialRaw(t, addr, 5)
	rc.connect("polite", func(pk *packets.Packet) {
		pk.Connect.WillFlag = true
		pk.Connect.WillTopic = "status/polite"
		pk.Connect.WillPayload = []byte("gone")
	})
	rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	rc.closed()
	_, err = mem.Publish(ctx, pubsub.Message{Topic: "status/marker"})
	require.NoError(t, err)
	require.Equal(t, "status/marker", (<-watch.C()).Topic, "no will after a clean DISCONNECT")
}

func TestServerAuth(t *testing.T) {
	mem := newMemory(t)
	auth := &transport.Auth{
		Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
			require.Equal(t, "mqtt", c.Transport)
			switch {
			case c.Username == "banned":
				return nil, transport.ErrForbidden
			case c.Username != "alice" || c.Password != "secret":
				return nil, errors.New("bad password")
			}
			return &transport.Identity{Subject: c.Username}, nil
		},
		Authorize: func(_ context.Context, id *transport.Identity, a transport.Action, topic string) error {
			if id == nil || id.Subject != "alice" {
				return errors.New("no identity")
			}
			if topic == "secret/#" || topic == "secret/x" {
				return transport.ErrForbidden
			}
			return nil
		},
	}
	_, addr := startServer(t, mem, &mqttx.ServerOptions{Auth: auth})
	login := func(u, p string) func(*packets.Packet) {
		return func(pk *packets.Packet) {
			pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(u)
			pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(p)
		}
	}
	for _, tc := range []struct {
		user, pass string
		version    byte
		code       byte
	}{
		{"alice", "wrong", 5, 0x86}, {"banned", "x", 5, 0x87},
		{"alice", "wrong", 4, 0x04}, {"banned", "x", 4, 0x05},
	} {
		rc := dialRaw(t, addr, tc.version)
		ack := rc.connect("c", login(tc.user, tc.pass))
		require.Equal(t, tc.code, ack.ReasonCode, "%+v", tc)
		rc.closed()
	}

	rc := dialRaw(t, addr, 5)
	require.Zero(t, rc.connect("alice", login("alice", "secret")).ReasonCode)
	ack := rc.subscribe(1, 1, "secret/#", "public/#")
	require.Equal(t, []byte{0x87, 1}, ack.ReasonCodes)
	rc.publish(2, 1, "secret/x", []byte("x"), false)
	pub := rc.read()
	require.Equal(t, packets.Puback, pub.FixedHeader.Type)
	require.Equal(t, byte(0x87), pub.ReasonCode)
	rc.publish(3, 2, "secret/x", []byte("x"), false)
	pub = rc.read()
	require.Equal(t, packets.Pubrec, pub.FixedHeader.Type)
	require.Equal(t, byte(0x87), pub.ReasonCode)

	// MQTT 3.1.1 has no reason code in PUBACK: a refused QoS 1 or 2
	// publish is acknowledged and dropped [MQTT-3.3.5-2] (closing the
	// connection would send the client into a reconnect loop, publishing
	// it again each time); SUBACK says 0x80.
	watch, err := mem.Subscribe(context.Background(), "#", nil)
	require.NoError(t, err)
	defer watch.Close()
	rc = dialRaw(t, addr, 4)
	require.Zero(t, rc.connect("alice3", login("alice", "secret")).ReasonCode)
	require.Equal(t, []byte{0x80, 1}, rc.subscribe(1, 1, "secret/#", "public/#").ReasonCodes)
	rc.publish(2, 1, "secret/x", []byte("x"), false)
	pub = rc.read()
	require.Equal(t, packets.Puback, pub.FixedHeader.Type)
	require.Equal(t, uint16(2), pub.PacketID)
	rc.publish(3, 2, "secret/x", []byte("x"), true)
	pub = rc.read()
	require.Equal(t, packets.Pubrec, pub.FixedHeader.Type)
	require.Zero(t, pub.ReasonCode)
	rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: 3})
	require.Equal(t, packets.Pubcomp, rc.read().FixedHeader.Type)
	rc.publish(4, 1, "other/x", []byte("ok"), false) // a topic it has not subscribed to
	require.Equal(t, packets.Puback, rc.read().FixedHeader.Type, "the connection stays up")
	select {
	case m := <-watch.C():
		require.Equal(t, "other/x", m.Topic, "the refused publishes were dropped")
	case <-time.After(10 * time.Second):
		t.Fatal("the allowed publish did not arrive")
	}
}

// Issue 13: bob, who may read public/jobs, cannot join alice's "workers"
// group with a shared subscription $share/workers/public/jobs and take a
// share of its jobs.
func TestServerAuthGroup(t *testing.T) {
	auth := &transport.Auth{
		Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
			return &transport.Identity{Subject: c.Username}, nil
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
	user := func(u string) func(*packets.Packet) {
		return func(pk *packets.Packet) { pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(u) }
	}
	for _, tc := range []struct {
		version byte
		refused byte
	}{{5, 0x87}, {4, 0x80}} {
		t.Run(fmt.Sprint("v", tc.version), func(t *testing.T) {
			mem := newMemory(t)
			_, addr := startServer(t, mem, &mqttx.ServerOptions{Auth: auth})
			alice := dialRaw(t, addr, tc.version)
			require.Zero(t, alice.connect("alice", user("alice")).ReasonCode)
			bob := dialRaw(t, addr, tc.version)
			require.Zero(t, bob.connect("bob", user("bob")).ReasonCode)

			require.Equal(t, []byte{0}, alice.subscribe(1, 0, "$share/workers/public/jobs").ReasonCodes)
			ack := bob.subscribe(1, 0, "$share/workers/public/jobs", "$share/bob-workers/public/jobs", "$share/bob-workers/private/jobs")
			require.Equal(t, []byte{tc.refused, 0, tc.refused}, ack.ReasonCodes)

			// alice's group keeps every job.
			ctx := context.Background()
			for i := range 3 {
				_, err := mem.Publish(ctx, pubsub.Message{Topic: "public/jobs", Data: []byte{byte('0' + i)}})
				require.NoError(t, err)
			}
			for i := range 3 {
				pk := alice.read()
				require.Equal(t, packets.Publish, pk.FixedHeader.Type)
				require.Equal(t, "public/jobs", pk.TopicName)
				require.Equal(t, []byte{byte('0' + i)}, pk.Payload)
			}
		})
	}
}

func TestServerBadInput(t *testing.T) {
	mem := newMemory(t)
	_, addr := startServer(t, mem, &mqttx.ServerOptions{Limits: transport.Limits{MaxMessageBytes: 1024, MaxSubscriptions: 3}})

	rc := dialRaw(t, addr, 5)
	rc.connect("bad", nil)
	ack := rc.subscribe(1, 1, "a/#/b", "a+/b", "$share/g", "$share//x", "ok/+")
	require.Equal(t, []byte{0x8F, 0x8F, 0x8F, 0x8F, 1}, ack.ReasonCodes)
	ack = rc.subscribe(2, 0, "x/1", "x/2", "x/3")
	require.Equal(t, []byte{0, 0, 0x97}, ack.ReasonCodes, "beyond MaxSubscriptions")

	// Wildcards and $SYS in a topic name, oversized payloads.
	for i, tc := range []struct {
		topic string
		size  int
		code  byte
	}{{"a/+", 1, 0x90}, {"a/#", 1, 0x90}, {"$SYS/x", 1, 0x87}, {"big", 2000, 0x95}} {
		rc.publish(uint16(10+i), 1, tc.topic, make([]byte, tc.size), false)
		pk := rc.read()
		require.Equal(t, packets.Puback, pk.FixedHeader.Type, tc.topic)
		require.Equal(t, tc.code, pk.ReasonCode, tc.topic)
	}
	// The connection still works (the PUBACK and the delivery to our own
	// subscription may come in either order).
	rc.publish(20, 1, "ok/1", []byte("fine"), false)
	var acked, delivered bool
	for !acked || !delivered {
		pk := rc.read()
		switch pk.FixedHeader.Type {
		case packets.Puback:
			require.Equal(t, uint16(20), pk.PacketID)
			require.Zero(t, pk.ReasonCode)
			acked = true
		case packets.Publish:
			require.Equal(t, "fine", string(pk.Payload))
			if pk.FixedHeader.Qos > 0 {
				rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID})
			}
			delivered = true
		default:
			t.Fatalf("unexpected packet %v", pk.FixedHeader)
		}
	}

	// Garbage: the connection is closed, the server keeps serving.
	for _, junk := range [][]byte{
		{0xff, 0xff, 0xff, 0xff, 0xff},                            // bad type and length
		{0x10, 0x02, 0x00, 0x00},                                  // truncated CONNECT
		{0x30, 0x03, 0x00, 0x05, 'a'},                             // PUBLISH before CONNECT
		{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 9, 2, 0, 30, 0, 0}, // unknown protocol version
	} {
		rc := dialRaw(t, addr, 4)
		rc.write(junk)
		rc.closed()
	}
	rc = dialRaw(t, addr, 4)
	rc.connect("after-junk", nil)
	require.Equal(t, []byte{0}, rc.subscribe(1, 0, "still/ok").ReasonCodes)
}

func TestServerSlowClientDisconnected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mem := newMemory(t)
	_, addr := startServer(t, mem, &mqttx.ServerOptions{Buffer: 4, MaxInflight: 2, WriteTimeout: 300 * time.Millisecond})
	rc := dialRaw(t, addr, 5)
	rc.connect("slow", nil)
	rc.subscribe(1, 1, "flood")
	// The client never acknowledges: two deliveries in flight, four
	// buffered, then the broker subscription overflows.
	for i := range 50 {
		_, err := mem.Publish(ctx, pubsub.Message{Topic: "flood", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	got := rc.closed()
	require.NotEmpty(t, got)
	last := got[len(got)-1]
	require.Equal(t, packets.Disconnect, last.FixedHeader.Type)
	require.Equal(t, byte(0x97), last.ReasonCode)
	var pubs int
	for _, pk := range got {
		if pk.FixedHeader.Type == packets.Publish {
			pubs++
		}
	}
	require.Equal(t, 2, pubs, "MaxInflight bounds unacknowledged deliveries")
}

func TestServerShutdown(t *testing.T) {
	mem := newMemory(t)
	srv, err := mqttx.NewServer(mem, nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	rc := dialRaw(t, ln.Addr().String(), 5)
	rc.connect("c", func(pk *packets.Packet) {
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, "wills", []byte("x")
	})
	watch, err := mem.Subscribe(context.Background(), "wills", nil)
	require.NoError(t, err)
	defer watch.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	got := rc.closed()
	require.Len(t, got, 1)
	require.Equal(t, packets.Disconnect, got[0].FixedHeader.Type)
	require.Equal(t, byte(0x8B), got[0].ReasonCode)
	require.ErrorIs(t, <-served, mqttx.ErrServerClosed)
	require.NoError(t, srv.Close())
	require.ErrorIs(t, srv.Serve(ln), mqttx.ErrServerClosed)
	select {
	case m := <-watch.C():
		t.Fatalf("will published on server shutdown: %v", m)
	default:
	}
}

func TestServerWebSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mem := newMemory(t)
	var gotHeader string
	srv, err := mqttx.NewServer(mem, &mqttx.ServerOptions{Auth: &transport.Auth{
		Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
			gotHeader = c.Header.Get("X-Device")
			if c.Token != "t0k" {
				return nil, transport.ErrUnauthenticated
			}
			return &transport.Identity{Subject: "ws"}, nil
		},
	}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/mqtt", srv)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer srv.Close()

	// Plain HTTP gets a clear 426.
	res, err := http.Get(hs.URL + "/mqtt")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusUpgradeRequired, res.StatusCode)

	u, err := url.Parse(strings.Replace(hs.URL, "http://", "ws://", 1) + "/mqtt?access_token=t0k")
	require.NoError(t, err)
	msgs := make(chan *paho.Publish, 10)
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u},
		KeepAlive:  30,
		WebSocketCfg: &autopaho.WebSocketConfig{Header: func(*url.URL, *tls.Config) http.Header {
			return http.Header{"X-Device": []string{"thermostat"}}
		}},
		CleanStartOnInitialConnection: true,
		ClientConfig: paho.ClientConfig{
			ClientID: "ws-client",
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				msgs <- pr.Packet
				return true, nil
			}},
		},
	})
	require.NoError(t, err)
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		_ = cm.Disconnect(dctx)
	}()
	require.NoError(t, cm.AwaitConnection(ctx))
	require.Equal(t, "thermostat", gotHeader)
	_, err = cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ws/#", QoS: 2}}})
	require.NoError(t, err)
	_, err = cm.Publish(ctx, &paho.Publish{Topic: "ws/echo", QoS: 2, Payload: []byte("over websocket")})
	require.NoError(t, err)
	select {
	case p := <-msgs:
		require.Equal(t, "over websocket", string(p.Payload))
	case <-ctx.Done():
		t.Fatal("no message over WebSocket")
	}
}

func TestServerSharedSubscription(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mem := newMemory(t)
	_, addr := startServer(t, mem, nil)
	var devs []*device
	for i := range 3 {
		d := connectDevice(t, addr, fmt.Sprintf("w%d", i), nil)
		require.Equal(t, []byte{1}, d.subscribe(t, paho.SubscribeOptions{Topic: "$share/workers/jobs/+", QoS: 1}))
		devs = append(devs, d)
	}
	const n = 30
	for i := range n {
		_, err := mem.Publish(ctx, pubsub.Message{Topic: "jobs/x", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	seen := map[string]int{}
	for len(seen) < n {
		select {
		case p := <-devs[0].msgs:
			seen[string(p.Payload)]++
		case p := <-devs[1].msgs:
			seen[string(p.Payload)]++
		case p := <-devs[2].msgs:
			seen[string(p.Payload)]++
		case <-ctx.Done():
			t.Fatalf("group got %d of %d", len(seen), n)
		}
	}
	for k, c := range seen {
		require.Equal(t, 1, c, "job %s delivered %d times", k, c)
	}
}

func TestServerNoLocalAndUnsubscribe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mem := newMemory(t)
	_, addr := startServer(t, mem, nil)
	d := connectDevice(t, addr, "nl", nil)
	d.subscribe(t, paho.SubscribeOptions{Topic: "chat/+", QoS: 1, NoLocal: true})
	_, err := d.c.Publish(ctx, &paho.Publish{Topic: "chat/me", QoS: 1, Payload: []byte("mine")})
	require.NoError(t, err)
	_, err = mem.Publish(ctx, pubsub.Message{Topic: "chat/other", Data: []byte("theirs")})
	require.NoError(t, err)
	require.Equal(t, "theirs", string(d.next(t).Payload), "NoLocal skips the client's own message")

	ua, err := d.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"chat/+", "never/subscribed"}})
	require.NoError(t, err)
	require.Equal(t, []byte{0x00, 0x11}, ua.Reasons)
	d.subscribe(t, paho.SubscribeOptions{Topic: "marker", QoS: 1})
	_, err = mem.Publish(ctx, pubsub.Message{Topic: "chat/other", Data: []byte("after")})
	require.NoError(t, err)
	_, err = mem.Publish(ctx, pubsub.Message{Topic: "marker"})
	require.NoError(t, err)
	require.Equal(t, "marker", d.next(t).Topic, "nothing after UNSUBSCRIBE")
}

// TestServerMalformedSubscribe: mochi-mqtt's decoder panics on an MQTT 5
// SUBSCRIBE whose filter is not followed by its options byte. The server
// survives: the connection closes as for any protocol error (the will is
// published) and other clients carry on.
func TestServerMalformedSubscribe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mem := newMemory(t)
	_, addr := startServer(t, mem, nil)
	watch, err := mem.Subscribe(ctx, "wills/#", nil)
	require.NoError(t, err)
	defer watch.Close()
	rc := dialRaw(t, addr, 5)
	rc.connect("crasher", func(pk *packets.Packet) {
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, "wills/crasher", []byte("bye")
	})
	// SUBSCRIBE, packet id 1, no properties, filter "#", options byte missing.
	rc.write([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, '#'})
	rc.closed()
	require.Equal(t, "wills/crasher", (<-watch.C()).Topic)
	ok := dialRaw(t, addr, 5)
	require.Zero(t, ok.connect("crasher", nil).ReasonCode, "same client id connects again")
	require.Equal(t, []byte{0}, ok.subscribe(1, 0, "x").ReasonCodes)
}

// TestServerQoS1Stream: far more QoS 1 deliveries than MaxInflight reach an
// acknowledging client, in order, none lost.
func TestServerQoS1Stream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	mem := newMemory(t)
	_, addr := startServer(t, mem, &mqttx.ServerOptions{MaxInflight: 8, Buffer: 2000})
	d := connectDevice(t, addr, "stream", nil)
	d.subscribe(t, paho.SubscribeOptions{Topic: "s", QoS: 1})
	const n = 1000
	for i := range n {
		_, err := mem.Publish(ctx, pubsub.Message{Topic: "s", Data: fmt.Appendf(nil, "%d", i)})
		require.NoError(t, err)
	}
	for i := range n {
		select {
		case p := <-d.msgs:
			require.Equal(t, fmt.Sprint(i), string(p.Payload))
		case <-ctx.Done():
			t.Fatalf("got %d of %d", i, n)
		}
	}
}

// TestServerSessions: sessions end with the connection, and clients are
// told so; MaxConnections is enforced at CONNECT.
func TestServerSessions(t *testing.T) {
	mem := newMemory(t)
	_, addr := startServer(t, mem, &mqttx.ServerOptions{Limits: transport.Limits{MaxConnections: 2}})
	persistent := func(pk *packets.Packet) {
		pk.Connect.Clean = false
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = 3600, true
	}
	rc := dialRaw(t, addr, 5)
	ack := rc.connect("keeper", persistent)
	require.Zero(t, ack.ReasonCode)
	require.True(t, ack.Properties.SessionExpiryIntervalFlag)
	require.Zero(t, ack.Properties.SessionExpiryInterval, "the server keeps no session after the connection")
	rc.subscribe(1, 1, "keep/#")
	rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	rc.closed()

	rc = dialRaw(t, addr, 5)
	ack = rc.connect("keeper", persistent)
	require.False(t, ack.SessionPresent, "a reconnecting client learns it must subscribe again")

	// MaxConnections: a third client is refused with "server busy".
	var a *rawClient
	require.Eventually(t, func() bool { // the closed connection is uncounted asynchronously
		a = dialRaw(t, addr, 4)
		return a.connect("twin", func(pk *packets.Packet) { pk.Connect.Clean = false }).ReasonCode == 0
	}, 5*time.Second, 10*time.Millisecond)
	a.subscribe(1, 1, "twin/#")
	busy := dialRaw(t, addr, 5)
	require.Equal(t, byte(0x89), busy.connect("third", nil).ReasonCode)
	busy.closed()

	// Taking over a live session (MQTT 3.1.1, clean session 0) keeps its
	// subscriptions working on the new connection.
	rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	rc.closed()
	b := dialRaw(t, addr, 4)
	var ack2 packets.Packet
	require.Eventually(t, func() bool { // the freed slot is counted asynchronously
		b = dialRaw(t, addr, 4)
		ack2 = b.connect("twin", func(pk *packets.Packet) { pk.Connect.Clean = false })
		return ack2.ReasonCode == 0
	}, 5*time.Second, 10*time.Millisecond)
	require.True(t, ack2.SessionPresent)
	a.closed()
	_, err := mem.Publish(context.Background(), pubsub.Message{Topic: "twin/1", Data: []byte("still subscribed")})
	require.NoError(t, err)
	pk := b.read()
	require.Equal(t, packets.Publish, pk.FixedHeader.Type)
	require.Equal(t, "still subscribed", string(pk.Payload))
}

func TestServerWebSocketNeedsSubprotocol(t *testing.T) {
	srv, err := mqttx.NewServer(newMemory(t), nil)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, hs.URL, nil) // no "mqtt" subprotocol
	require.NoError(t, err)
	defer c.CloseNow()
	_, _, err = c.Read(ctx)
	require.Equal(t, websocket.StatusProtocolError, websocket.CloseStatus(err))
}
