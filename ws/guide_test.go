package ws

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/wire"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// TestGuideFrames runs the client of the guide's "WebSocket-Based Pub/Sub"
// section frame by frame: subscribe with topics, publish with no id,
// messages as {type, topic, data}, unsubscribe.
func TestGuideFrames(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"subscribe","topics":["user-events","system-notifications"]}`)
	sub := c.expect("subscribed", "")
	require.Equal(t, []any{"user-events", "system-notifications"}, sub["topics"])
	require.NotEmpty(t, sub["cursor"], "the broker's head, to resume from")
	require.NotContains(t, sub, "id")

	c.send(`{"type":"publish","topic":"user-events","data":{"userId":42,"action":"login"}}`)
	m := c.expect("message", "")
	require.Equal(t, "user-events", m["topic"])
	require.Equal(t, map[string]any{"userId": float64(42), "action": "login"}, m["data"])
	require.NotContains(t, m, "sub")
	require.NotEmpty(t, m["cursor"])

	// A JSON string from a guide publisher is text: other transports see
	// the string itself, guide subscribers get it back as a string.
	c.send(`{"type":"publish","topic":"system-notifications","data":"hello world"}`)
	m = c.expect("message", "")
	require.Equal(t, "hello world", m["data"])
	page, err := ts.broker.History(context.Background(), "system-notifications", pubsub.HistoryOptions{})
	require.NoError(t, err)
	require.Equal(t, "hello world", string(page.Messages[0].Data))

	// Payloads from elsewhere: text as a string, JSON as JSON, binary in
	// data_b64, empty as "".
	publish(t, ts.broker, "user-events", "plain text")
	require.Equal(t, "plain text", c.expect("message", "")["data"])
	publish(t, ts.broker, "user-events", `"quoted"`)
	require.Equal(t, "quoted", c.expect("message", "")["data"])
	publish(t, ts.broker, "user-events", "\x00\xff")
	m = c.expect("message", "")
	require.NotContains(t, m, "data")
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("\x00\xff")), m["data_b64"])
	publish(t, ts.broker, "user-events", "")
	require.Equal(t, "", c.expect("message", "")["data"])

	// Subscribing again to a topic is a no-op (one delivery per message).
	c.send(`{"type":"subscribe","topics":["user-events"]}`)
	c.expect("subscribed", "")
	publish(t, ts.broker, "user-events", "1")
	require.Equal(t, float64(1), c.expect("message", "")["data"])

	c.send(`{"type":"unsubscribe","topics":["user-events","never-subscribed"]}`)
	require.Equal(t, []any{"user-events", "never-subscribed"}, c.expect("unsubscribed", "")["topics"])
	publish(t, ts.broker, "user-events", "2")
	publish(t, ts.broker, "system-notifications", "3")
	m = c.expect("message", "")
	require.Equal(t, "system-notifications", m["topic"], "nothing more from user-events")

	// Both forms on one connection: a switchboard.v1 subscription gets its
	// own frames, with its sub id and the exact payload form.
	c.send(`{"type":"subscribe","id":"s1","filter":"user-events"}`)
	c.expect("subscribed", "s1")
	c.send(`{"type":"publish","id":"p1","topic":"user-events","data":"hello world"}`)
	// The ack and the message may come in either order.
	byType := map[any]map[string]any{}
	for range 2 {
		f := c.recv()
		byType[f["type"]] = f
	}
	require.Equal(t, "p1", byType["ack"]["id"])
	m = byType["message"]
	require.Equal(t, "s1", m["sub"])
	require.Equal(t, "hello world", m["data"], "v1 keeps the JSON string as JSON")
	c.send(`{"type":"publish","topic":"user-events","data":"hello world"}`)
	m = c.expect("message", "")
	require.Equal(t, "hello world", m["text"], "a guide text publish is text to v1 subscribers")
}

// TestGuideResume: a guide client that sends since gets the messages after
// that cursor, then live ones; a cursor history does not reach is a gap.
func TestGuideResume(t *testing.T) {
	ts := newTestServer(t, nil, &pubsub.MemoryOptions{HistorySize: 3})
	r1 := publish(t, ts.broker, "news", "one")
	publish(t, ts.broker, "news", "two")
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"subscribe","topics":["news"],"since":"` + r1.Cursor + `"}`)
	sub := c.expect("subscribed", "")
	require.NotContains(t, sub, "cursor", "a resume names no head")
	require.Equal(t, "two", c.expect("message", "")["data"])
	publish(t, ts.broker, "news", "three")
	require.Equal(t, "three", c.expect("message", "")["data"])

	for range 5 {
		publish(t, ts.broker, "old", "x")
	}
	d := ts.dialRaw(t, nil)
	d.send(`{"type":"subscribe","topics":["news","old"],"since":"` + r1.Cursor + `"}`)
	d.expect("subscribed", "")
	gaps := map[any]bool{}
	for range 2 {
		g := d.expect("gap", "")
		gaps[g["topics"].([]any)[0]] = true
	}
	require.Equal(t, map[any]bool{"news": true, "old": true}, gaps)
	d.send(`{"type":"subscribe","topics":["x"],"since":"garbage"}`)
	d.expect("subscribed", "")
	require.Equal(t, []any{"x"}, d.expect("gap", "")["topics"])
}

// TestGuideErrors: refusals of guide frames are error frames naming the
// topic (there is no id), and a refused topic subscribes to none.
func TestGuideErrors(t *testing.T) {
	auth := &transport.Auth{Authorize: func(_ context.Context, _ *transport.Identity, a transport.Action, topic string) error {
		if topic == "secret" {
			return errors.New("no")
		}
		return nil
	}}
	ts := newTestServer(t, &Options{Auth: auth, Limits: transport.Limits{MaxSubscriptions: 3, MaxMessageBytes: 8}}, nil)
	c := ts.dialRaw(t, nil)
	for _, tc := range []struct{ frame, code, topic string }{
		{`{"type":"subscribe","topics":["ok","secret"]}`, "forbidden", "secret"},
		{`{"type":"subscribe","topics":["a/#/b"]}`, "bad_request", "a/#/b"},
		{`{"type":"subscribe","id":"s1","topics":["a"]}`, "bad_request", ""},
		{`{"type":"subscribe","topics":["a","b","c","d"]}`, "rate_limited", ""},
		{`{"type":"publish","topic":"secret","data":1}`, "forbidden", "secret"},
		{`{"type":"publish","topic":"a/+","data":1}`, "bad_request", "a/+"},
		{`{"type":"publish","topic":"a","data":"far too long"}`, "too_large", "a"},
		{`{"type":"publish","topic":"a","data":1,"text":"x"}`, "bad_request", "a"},
		{`{"type":"request","topic":"a","data":1}`, "bad_request", ""},
		{`{"type":"subscribe"}`, "bad_request", ""},
	} {
		c.send(tc.frame)
		e := c.expect("error", "")
		require.Equal(t, tc.code, e["code"], "%s: %v", tc.frame, e)
		if tc.topic != "" {
			require.Equal(t, tc.topic, e["topic"], "%s", tc.frame)
		} else {
			require.NotContains(t, e, "topic", "%s", tc.frame)
		}
	}
	// "ok" was not subscribed by the refused frame.
	publish(t, ts.broker, "ok", "1")
	c.send(`{"type":"ping","id":"x"}`)
	c.expect("pong", "x")
}

func TestGuideMessageFrame(t *testing.T) {
	m := &pubsub.Message{Topic: "user-events", ID: "e-1", Cursor: "e-1", Time: time.Unix(1, 0).UTC(), Data: []byte("hello world")}
	b := append(appendGuideFields([]byte(`{"type":"message"`), m), '}')
	require.JSONEq(t, `{"type":"message","topic":"user-events","data":"hello world","id":"e-1","cursor":"e-1","time":"1970-01-01T00:00:01Z"}`, string(b))
	var c wire.EncodeCache
	buf := make([]byte, 0, 256)
	require.Zero(t, testing.AllocsPerRun(100, func() { buf = c.Append(buf[:0], m, appendGuideFields) }))
}

// FuzzGuideMessageFrame checks the guide-form message encoder: a valid
// JSON frame whose data is the payload (JSON as JSON, text as a string)
// or whose data_b64 is.
func FuzzGuideMessageFrame(f *testing.F) {
	f.Add("user-events", []byte(`{"userId":42}`))
	f.Add("a", []byte("hello world"))
	f.Add("a/\u2028", []byte{0, 0xff})
	f.Add("t", []byte(""))
	f.Add("t", []byte("\"\\\u2029\x01"))
	f.Fuzz(func(t *testing.T, topic string, data []byte) {
		m := &pubsub.Message{Topic: topic, Cursor: "e-7", Data: data}
		b := append(appendGuideFields([]byte(`{"type":"message"`), m), '}')
		require.True(t, json.Valid(b), "%q", b)
		var fr struct {
			Data    json.RawMessage `json:"data"`
			DataB64 *string         `json:"data_b64"`
		}
		require.NoError(t, json.Unmarshal(b, &fr))
		switch {
		case wire.EmbeddableJSON(data):
			require.Equal(t, string(data), string(fr.Data))
		case utf8.Valid(data):
			var s string
			require.NoError(t, json.Unmarshal(fr.Data, &s))
			require.Equal(t, string(data), s)
		default:
			require.Nil(t, fr.Data)
			got, err := base64.StdEncoding.DecodeString(*fr.DataB64)
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got))
		}
	})
}

// TestGuideKey: a guide publish with a key is idempotent like a v1 one;
// a bad key is refused by topic.
func TestGuideKey(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	c := ts.dialRaw(t, nil)
	c.send(`{"type":"subscribe","topics":["k"]}`)
	c.expect("subscribed", "")
	c.send(`{"type":"publish","topic":"k","key":"once","data":1}`)
	c.send(`{"type":"publish","topic":"k","key":"once","data":1}`)
	c.send(`{"type":"publish","topic":"k","data":2}`)
	require.Equal(t, float64(1), c.expect("message", "")["data"])
	require.Equal(t, float64(2), c.expect("message", "")["data"], "the repeat was not delivered")
	c.send(`{"type":"publish","topic":"k","key":"a\u0001","data":3}`)
	e := c.expect("error", "")
	require.Equal(t, "k", e["topic"])
}

// TestGuidePlainText: the guide's "WebSocket API in Browsers" client
// connects without a subprotocol and sends the text 'Hello Server!'. It
// gets one well-formed error frame saying what a frame is, and the
// connection stays usable.
func TestGuidePlainText(t *testing.T) {
	ts := newTestServer(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wc, _, err := websocket.Dial(ctx, ts.url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = wc.CloseNow() })
	c := &rawConn{t: t, c: wc}
	for _, tc := range []struct{ text, what string }{
		{"Hello Server!", "is not JSON"},
		{`"Hello Server!"`, "is JSON but not an object"},
		{"  ", "is not JSON"},
		{"[1]", "is JSON but not an object"},
	} {
		c.send(tc.text)
		m := c.expect("error", "")
		require.Equal(t, "bad_request", m["code"])
		require.Contains(t, m["message"], `a frame is a JSON object with a "type"`)
		require.Contains(t, m["message"], tc.what)
		require.NotContains(t, m, "id")
	}
	c.send(`{"type":"ping","id":"x"}`)
	c.expect("pong", "x")
}
