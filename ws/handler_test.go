package ws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestSubscribePublishAck(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	sub := ts.dialRaw(t, nil)
	pub := ts.dialRaw(t, nil)

	sub.send(`{"type":"subscribe","id":"s1","filter":"chat/#"}`)
	m := sub.expect("subscribed", "s1")
	require.NotEmpty(t, m["cursor"], "a broker with history gives the head cursor")

	pub.send(`{"type":"publish","id":"p1","topic":"chat/room1","data":{"text":"hi"},"header":{"k":"v"}}`)
	ack := pub.expect("ack", "p1")
	require.NotEmpty(t, ack["cursor"])
	require.NotEmpty(t, ack["message_id"])

	raw := sub.recvRaw()
	require.Contains(t, string(raw), `"data":{"text":"hi"}`, "JSON payloads travel verbatim")
	msg := decodeMap(t, raw)
	require.Equal(t, "message", msg["type"])
	require.Equal(t, "s1", msg["sub"])
	require.Equal(t, "chat/room1", msg["topic"])
	require.Equal(t, ack["cursor"], msg["cursor"])
	require.Equal(t, ack["message_id"], msg["id"])
	require.Equal(t, map[string]any{"k": "v"}, msg["header"])

	// Other topics do not reach s1; unsubscribe stops delivery.
	pub.send(`{"type":"publish","id":"p2","topic":"news","data":1}`)
	pub.expect("ack", "p2")
	sub.send(`{"type":"unsubscribe","id":"s1"}`)
	sub.expect("unsubscribed", "s1")
	pub.send(`{"type":"publish","id":"p3","topic":"chat/room1","data":2}`)
	pub.expect("ack", "p3")
	sub.send(`{"type":"ping","id":"x"}`)
	sub.expect("pong", "x") // the next frame is the pong, not a message
}

func decodeMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	f, err := decodeServerFrame(b)
	require.NoError(t, err)
	_ = f
	var m map[string]any
	require.NoError(t, jsonUnmarshal(b, &m))
	return m
}

func TestPayloadBytesRoundTrip(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.dialRaw(t, nil)
	bsub, err := ts.broker.Subscribe(context.Background(), "bin/#", nil)
	require.NoError(t, err)
	defer bsub.Close()
	c.send(`{"type":"subscribe","id":"s","filter":"bin/#"}`)
	c.expect("subscribed", "s")

	payloads := [][]byte{
		{0, 1, 2, 0xff, 0xfe},      // binary
		[]byte(" {\"a\":1}"),       // JSON with leading space: not embeddable
		[]byte(`{"a": [1, 2.50]}`), // JSON kept verbatim, spacing and all
		[]byte("plain text"),
		[]byte("\xc3\x28"), // invalid UTF-8
	}
	for i, p := range payloads {
		// broker → ws
		_, err := ts.broker.Publish(context.Background(), pubsub.Message{Topic: "bin/b", Data: p})
		require.NoError(t, err)
		f, err := decodeServerFrame(c.recvRaw())
		require.NoError(t, err)
		got, err := f.message()
		require.NoError(t, err)
		require.Equal(t, p, got.Data, "payload %d broker→ws", i)
		<-bsub.C()

		// ws → broker, with data_b64
		c.send(fmt.Sprintf(`{"type":"publish","id":"p%d","topic":"bin/w","data_b64":%q}`, i, base64.StdEncoding.EncodeToString(p)))
		bm := <-bsub.C()
		require.Equal(t, p, bm.Data, "payload %d ws→broker", i)
		// The ack and our own subscription's copy come in either order.
		for range 2 {
			f, err = decodeServerFrame(c.recvRaw())
			require.NoError(t, err)
			if f.Type == typeAck {
				require.Equal(t, fmt.Sprintf("p%d", i), f.ID)
				continue
			}
			got, err = f.message()
			require.NoError(t, err)
			require.Equal(t, p, got.Data)
		}
	}
}

func TestResumeSince(t *testing.T) {
	ts := newTestServer(t, nil, &pubsub.MemoryOptions{Epoch: "e1"})
	r1 := publish(t, ts.broker, "a", `1`)
	publish(t, ts.broker, "b", `2`)
	publish(t, ts.broker, "a", `3`)
	publish(t, ts.broker, "a", `4`)

	c := ts.dialRaw(t, nil)
	c.send(fmt.Sprintf(`{"type":"subscribe","id":"s1","filter":"a","since":%q}`, r1.Cursor))
	c.expect("subscribed", "s1")
	require.Equal(t, float64(3), c.expect("message", "")["data"])
	require.Equal(t, float64(4), c.expect("message", "")["data"])
	r5 := publish(t, ts.broker, "a", `5`)
	require.Equal(t, float64(5), c.expect("message", "")["data"], "live after the replay, no gap")

	// A live subscription is told the head cursor, the position a client
	// resumes from if nothing arrives.
	c.send(`{"type":"subscribe","id":"h1","filter":"none"}`)
	require.Equal(t, r5.Cursor, c.expect("subscribed", "h1")["cursor"])
	r6 := publish(t, ts.broker, "b", `6`)
	c.send(`{"type":"subscribe","id":"h2","filter":"none"}`)
	require.Equal(t, r6.Cursor, c.expect("subscribed", "h2")["cursor"])

	for _, since := range []string{"other-1", "garbage", "e1-999999"} {
		id := "g-" + since
		c.send(fmt.Sprintf(`{"type":"subscribe","id":%q,"filter":"a","since":%q}`, id, since))
		c.expect("subscribed", id)
		g := c.expect("gap", "")
		require.Equal(t, id, g["sub"])
	}
}

func TestResumeWithoutHistoryIsGap(t *testing.T) {
	ts := newTestServer(t, nil, &pubsub.MemoryOptions{HistorySize: -1})
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"subscribe","id":"s1","filter":"a","since":"x-1"}`)
	m := c.expect("subscribed", "s1")
	require.Nil(t, m["cursor"])
	require.Equal(t, "s1", c.expect("gap", "")["sub"])
	publish(t, ts.broker, "a", `1`)
	require.Equal(t, float64(1), c.expect("message", "")["data"])
}

func TestBadFrames(t *testing.T) {
	ts := newTestServer(t, &Options{Limits: transport.Limits{MaxSubscriptions: 2, MaxMessageBytes: 8}, MaxProtocolErrors: -1}, nil)
	c := ts.dialRaw(t, nil)
	cases := []struct {
		frame, id, code string
	}{
		{`not json`, "", "bad_request"},
		{`{"type":"nope","id":"n1"}`, "n1", "bad_request"},
		{`{"id":"n2"}`, "n2", "bad_request"},
		{`{"type":"subscribe","id":"s1","filter":"a/#/b"}`, "s1", "bad_request"},
		// broken text is refused, not decoded to U+FFFD and accepted
		{`{"type":"subscribe","id":"s2","filter":"a/\ud800"}`, "s2", "bad_request"},
		{`{"type":"publish","id":"p0","topic":"a/\udc00","data":1}`, "p0", "bad_request"},
		{"{\"type\":\"subscribe\",\"id\":\"s3\",\"filter\":\"a/\xff\"}", "", "bad_request"},
		{`{"type":"subscribe","filter":"a"}`, "", "bad_request"},
		{`{"type":"publish","id":"p1","topic":"a/+"}`, "p1", "bad_request"},
		{`{"type":"publish","id":"p2","topic":"a","data":1,"data_b64":"AA=="}`, "p2", "bad_request"},
		{`{"type":"publish","id":"p3","topic":"a","data_b64":"!!"}`, "p3", "bad_request"},
		{`{"type":"publish","id":"p4","topic":"a","data":"0123456789"}`, "p4", "too_large"},
		{`{"type":"publish","id":5,"topic":"a"}`, "", "bad_request"},
		{`{"type":"request","id":"r1","topic":"a","timeout_ms":-1}`, "r1", "bad_request"},
		{`{"type":"unsubscribe","id":"zz"}`, "zz", "not_found"},
		{`{"type":"subscribe","id":"g","filter":"a","group":"g","since":"x-1"}`, "g", "not_supported"},
	}
	for _, tc := range cases {
		c.send(tc.frame)
		m := c.expect("error", "")
		require.Equal(t, tc.code, m["code"], "frame %s: %v", tc.frame, m)
		if tc.id != "" {
			require.Equal(t, tc.id, m["id"], "frame %s", tc.frame)
		}
		require.NotEmpty(t, m["message"])
	}
	// binary frames are refused with an error frame
	ctx := context.Background()
	require.NoError(t, c.c.Write(ctx, websocket.MessageBinary, []byte{1, 2}))
	require.Equal(t, "bad_request", c.expect("error", "")["code"])

	// subscription limit and duplicate ids
	c.send(`{"type":"subscribe","id":"a","filter":"a"}`)
	c.expect("subscribed", "a")
	c.send(`{"type":"subscribe","id":"a","filter":"b"}`)
	require.Equal(t, "bad_request", c.expect("error", "a")["code"])
	c.send(`{"type":"subscribe","id":"b","filter":"b"}`)
	c.expect("subscribed", "b")
	c.send(`{"type":"subscribe","id":"c","filter":"c"}`)
	require.Equal(t, "rate_limited", c.expect("error", "c")["code"])

	// the connection still works
	c.send(`{"type":"ping"}`)
	c.expect("pong", "")
}

func TestTooManyProtocolErrorsCloses1008(t *testing.T) {
	ts := newTestServer(t, &Options{MaxProtocolErrors: 3}, nil)
	c := ts.dialRaw(t, nil)
	for range 3 {
		c.send(`{`)
	}
	for range 3 {
		require.Equal(t, "bad_request", c.expect("error", "")["code"], "each bad frame is answered before the close")
	}
	require.Equal(t, websocket.StatusPolicyViolation, c.closeStatus())
}

func TestReadLimitCloses1009(t *testing.T) {
	ts := newTestServer(t, &Options{ReadLimit: 1024}, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"publish","id":"p","topic":"a","data":"` + strings.Repeat("x", 2000) + `"}`)
	require.Equal(t, websocket.StatusMessageTooBig, c.closeStatus())
}

func TestAuth(t *testing.T) {
	auth := &transport.Auth{
		Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
			switch c.Token {
			case "good":
				return &transport.Identity{Subject: "alice"}, nil
			case "banned":
				return nil, transport.ErrForbidden
			}
			return nil, errors.New("bad token")
		},
		Authorize: func(ctx context.Context, id *transport.Identity, a transport.Action, topic string) error {
			if strings.HasPrefix(topic, "secret") {
				return fmt.Errorf("%s may not %s %s", id.Subject, a, topic)
			}
			return nil
		},
	}
	ts := newTestServer(t, &Options{Auth: auth}, nil)
	dialStatus := func(token string) websocket.StatusCode {
		c := ts.dialRaw(t, http.Header{"Authorization": {"Bearer " + token}})
		return c.closeStatus()
	}
	require.Equal(t, CloseUnauthorized, dialStatus("wrong"))
	require.Equal(t, CloseForbidden, dialStatus("banned"))

	c := ts.dialRaw(t, http.Header{"Authorization": {"Bearer good"}})
	c.send(`{"type":"subscribe","id":"s1","filter":"secret/#"}`)
	require.Equal(t, "forbidden", c.expect("error", "s1")["code"])
	c.send(`{"type":"publish","id":"p1","topic":"secret/x","data":1}`)
	require.Equal(t, "forbidden", c.expect("error", "p1")["code"])
	c.send(`{"type":"request","id":"r1","topic":"secret/x","data":1}`)
	require.Equal(t, "forbidden", c.expect("error", "r1")["code"])
	c.send(`{"type":"publish","id":"p2","topic":"open","data":1}`)
	c.expect("ack", "p2")

	// Go client: a refusal at the handshake is fatal and reported.
	_, err := Dial(context.Background(), ts.url, &ClientOptions{Header: http.Header{"Authorization": {"Bearer wrong"}}})
	require.Error(t, err)
}

func TestOrigin(t *testing.T) {
	ts := newTestServer(t, &Options{OriginPatterns: []string{"allowed.example"}}, nil)
	ctx := context.Background()
	dial := func(origin string) (*http.Response, error) {
		c, resp, err := websocket.Dial(ctx, ts.url, &websocket.DialOptions{Subprotocols: []string{Subprotocol},
			HTTPHeader: http.Header{"Origin": {origin}}})
		if err == nil {
			_ = c.CloseNow()
		}
		return resp, err
	}
	resp, err := dial("https://evil.example")
	require.Error(t, err)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	_, err = dial("https://allowed.example")
	require.NoError(t, err)
	_, err = dial(ts.srv.URL) // same origin
	require.NoError(t, err)
}

func TestSubprotocolNegotiation(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ctx := context.Background()
	// no subprotocol offered: served as switchboard.v1
	c, _, err := websocket.Dial(ctx, ts.url, nil)
	require.NoError(t, err)
	r := &rawConn{t: t, c: c}
	r.send(`{"type":"ping"}`)
	r.expect("pong", "")
	_ = c.CloseNow()
	// only another subprotocol offered: 1002
	c, _, err = websocket.Dial(ctx, ts.url, &websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
	require.NoError(t, err)
	r = &rawConn{t: t, c: c}
	require.Equal(t, websocket.StatusProtocolError, r.closeStatus())
}

func TestConnectionLimit(t *testing.T) {
	ts := newTestServer(t, &Options{Limits: transport.Limits{MaxConnections: 1}}, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"ping"}`)
	c.expect("pong", "")
	_, resp, err := websocket.Dial(context.Background(), ts.url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

func TestRequestReply(t *testing.T) {
	ts := newTestServer(t, &Options{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// A responder on the broker directly (any transport would do).
	bsub, err := ts.broker.Subscribe(ctx, "svc/echo", nil)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range bsub.C() {
			_, _ = pubsub.Reply(ctx, ts.broker, m, pubsub.Message{Data: append([]byte(`{"echo":`), append(m.Data, '}')...)})
		}
	}()
	defer func() { cancel(); <-done }()

	c := ts.dialRaw(t, nil)
	c.send(`{"type":"request","id":"r1","topic":"svc/echo","data":"hello","timeout_ms":5000}`)
	m := c.expect("reply", "r1")
	require.Equal(t, map[string]any{"echo": "hello"}, m["data"])
	require.Contains(t, m["header"], pubsub.HeaderCorrelationID)

	// A WebSocket responder: subscribes, answers with a publish to sb-reply-to.
	resp := ts.dialRaw(t, nil)
	resp.send(`{"type":"subscribe","id":"s","filter":"svc/upper"}`)
	resp.expect("subscribed", "s")
	c.send(`{"type":"request","id":"r2","topic":"svc/upper","data":"abc"}`)
	req := resp.expect("message", "")
	hdr := req["header"].(map[string]any)
	resp.send(fmt.Sprintf(`{"type":"publish","id":"p","topic":%q,"header":{%q:%q},"data":"ABC"}`,
		hdr[pubsub.HeaderReplyTo], pubsub.HeaderCorrelationID, hdr[pubsub.HeaderCorrelationID]))
	resp.expect("ack", "p")
	require.Equal(t, "ABC", c.expect("reply", "r2")["data"])

	// Nobody answers: a timeout error.
	c.send(`{"type":"request","id":"r3","topic":"svc/none","data":1,"timeout_ms":50}`)
	require.Equal(t, "timeout", c.expect("error", "r3")["code"])
}

func TestPendingRequestLimit(t *testing.T) {
	ts := newTestServer(t, &Options{MaxPendingRequests: 1}, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"request","id":"r1","topic":"svc/none","timeout_ms":60000}`)
	c.send(`{"type":"request","id":"r2","topic":"svc/none","timeout_ms":60000}`)
	require.Equal(t, "rate_limited", c.expect("error", "r2")["code"])
	// Closing the connection ends the pending request (goleak checks).
}

func TestShutdown(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"subscribe","id":"s","filter":"a"}`)
	c.expect("subscribed", "s")
	status := make(chan websocket.StatusCode, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			if _, _, err := c.c.Read(ctx); err != nil {
				status <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ts.h.Shutdown(ctx))
	require.Equal(t, websocket.StatusGoingAway, <-status)
	require.Equal(t, 0, ts.h.Active())
	_, resp, err := websocket.Dial(ctx, ts.url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	require.Error(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

func TestBrokerCloseEndsSubscription(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"subscribe","id":"s","filter":"a"}`)
	c.expect("subscribed", "s")
	require.NoError(t, ts.broker.Close())
	m := c.expect("error", "s")
	require.Equal(t, "unavailable", m["code"])
}

// disconnects is a slog.Handler that reports each "ws: disconnected".
type disconnects chan string

func (d disconnects) Enabled(context.Context, slog.Level) bool { return true }
func (d disconnects) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "ws: disconnected" {
		reason := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "reason" {
				reason = a.Value.String()
			}
			return true
		})
		d <- reason
	}
	return nil
}
func (d disconnects) WithAttrs([]slog.Attr) slog.Handler { return d }
func (d disconnects) WithGroup(string) slog.Handler      { return d }

func TestPingDropsUnresponsivePeer(t *testing.T) {
	gone := make(disconnects, 4)
	ts := newTestServer(t, &Options{KeepAlive: 20 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		Logger: slog.New(gone)}, nil)
	_ = ts.dialRaw(t, nil) // never reads, so never answers a ping
	select {
	case reason := <-gone:
		require.Equal(t, "no pong", reason)
	case <-time.After(5 * time.Second):
		t.Fatal("an unresponsive peer was not dropped")
	}
	require.Equal(t, 0, ts.h.Active())

	// A peer that reads answers the pings and stays.
	c := ts.dialRaw(t, nil)
	for i := range 10 {
		c.send(fmt.Sprintf(`{"type":"ping","id":"%d"}`, i))
		c.expect("pong", strconv.Itoa(i))
	}
	require.Equal(t, 1, ts.h.Active())
}

// TestManySubscriptions: one connection with several subscriptions gets
// each one's messages, while subscriptions come and go.
func TestManySubscriptions(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.dialRaw(t, nil)
	const n = 7
	for i := range n {
		c.send(fmt.Sprintf(`{"type":"subscribe","id":"s%d","filter":"t/%d"}`, i, i))
		c.expect("subscribed", fmt.Sprintf("s%d", i))
	}
	check := func(live []int) {
		t.Helper()
		for _, i := range live {
			publish(t, ts.broker, fmt.Sprintf("t/%d", i), strconv.Itoa(i))
			m := c.expect("message", "")
			require.Equal(t, fmt.Sprintf("s%d", i), m["sub"])
			require.Equal(t, float64(i), m["data"])
		}
	}
	check([]int{6, 0, 3, 5, 1, 2, 4})
	for _, i := range []int{0, 2, 4, 6} {
		c.send(fmt.Sprintf(`{"type":"unsubscribe","id":"s%d"}`, i))
		c.expect("unsubscribed", fmt.Sprintf("s%d", i))
	}
	publish(t, ts.broker, "t/0", "0") // unsubscribed: not delivered
	check([]int{5, 1, 3})
}

func TestRetainedMessage(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"publish","id":"p","topic":"state/door","data":"open","retain":true}`)
	c.expect("ack", "p")
	c.send(`{"type":"subscribe","id":"s","filter":"state/#"}`)
	head := c.expect("subscribed", "s")["cursor"].(string)
	m := c.expect("message", "")
	require.Equal(t, "open", m["data"])
	require.Equal(t, true, m["retain"])
	require.Nil(t, m["cursor"], "retained state is not a stream position")
	// A resuming subscription skips the retained state: it already has it.
	c.send(fmt.Sprintf(`{"type":"subscribe","id":"r","filter":"state/#","since":%q}`, head))
	c.expect("subscribed", "r")
	c.send(`{"type":"ping","id":"x"}`)
	c.expect("pong", "x")
}

// groupAuth lets everyone subscribe to public/#, alice join her "workers"
// group and anyone join groups named "<subject>-…".
func groupAuth() *transport.Auth {
	return &transport.Auth{
		Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
			return &transport.Identity{Subject: c.Token}, nil
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
}

// Issue 13: bob, who may read public/jobs, cannot join alice's "workers"
// group and take a share of its jobs.
func TestAuthGroup(t *testing.T) {
	ts := newTestServer(t, &Options{Auth: groupAuth()}, nil)
	alice := ts.dialRaw(t, http.Header{"Authorization": {"Bearer alice"}})
	bob := ts.dialRaw(t, http.Header{"Authorization": {"Bearer bob"}})

	alice.send(`{"type":"subscribe","id":"a","filter":"public/jobs","group":"workers"}`)
	alice.expect("subscribed", "a")
	bob.send(`{"type":"subscribe","id":"b","filter":"public/jobs","group":"workers"}`)
	require.Equal(t, "forbidden", bob.expect("error", "b")["code"])
	bob.send(`{"type":"subscribe","id":"b2","filter":"public/jobs","group":"bob-workers"}`)
	bob.expect("subscribed", "b2")
	bob.send(`{"type":"subscribe","id":"b3","filter":"private/jobs","group":"bob-workers"}`)
	require.Equal(t, "forbidden", bob.expect("error", "b3")["code"], "the filter is still checked")

	// alice's group keeps every job.
	for i := range 3 {
		publish(t, ts.broker, "public/jobs", strconv.Itoa(i))
	}
	for i := range 3 {
		m := alice.expect("message", "")
		require.Equal(t, "a", m["sub"])
		require.Equal(t, float64(i), m["data"])
	}

	// The Go client reports the refusal.
	c, err := Dial(context.Background(), ts.url, &ClientOptions{Header: http.Header{"Authorization": {"Bearer bob"}}})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Subscribe(context.Background(), "public/jobs", &SubscribeOptions{Group: "workers"})
	require.ErrorIs(t, err, transport.ErrForbidden)
}
