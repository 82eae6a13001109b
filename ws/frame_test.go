package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"subscribe","id":"s1","filter":"chat/#","since":"abc-1","group":"g"}`,
		`{"type":"unsubscribe","id":"s1"}`,
		`{"type":"publish","id":"p1","topic":"chat/room1","data":{"text":"hi"},"header":{"k":"v"}}`,
		`{"type":"publish","id":"p1","topic":"a","data_b64":"AAEC"}`,
		`{"type":"request","id":"r1","topic":"svc/echo","data":1,"timeout_ms":5000}`,
		`{"type":"ping"}`, `{}`, `[]`, `null`, "Hello Server!", `"Hello Server!"`, " \t{\"type\":\"ping\"}", `{"type":"publish","id":"x","topic":"a","data":1,"data_b64":"AA=="}`,
		`{"type":"publish","id":"p","topic":"a/+"}`, `{"type":"subscribe","id":"s","filter":"#/a"}`,
		`{"type":"publish","id":"p1","topic":"a","text":"hello world"}`,
		`{"type":"publish","id":"p1","topic":"a","text":"x","data":1}`,
		// the guide form
		`{"type":"subscribe","topics":["user-events","system-notifications"]}`,
		`{"type":"subscribe","topics":["a/#"],"since":"abc-1"}`,
		`{"type":"subscribe","topics":[]}`, `{"type":"subscribe","topics":["a/#/b"]}`,
		`{"type":"subscribe","id":"s1","topics":["a"]}`, `{"type":"subscribe","topics":[1]}`,
		`{"type":"unsubscribe","topics":["user-events"]}`,
		`{"type":"publish","topic":"user-events","data":{"userId":42,"action":"login"}}`,
		`{"type":"publish","topic":"user-events","data":"hello world"}`,
		`{"type":"publish","topic":"user-events","data":"\ud800"}`,
		`{"type":"publish","topic":"a/+","data":1}`,
		`{"type":"publish","id":"p","topic":"a","key":"order-1","data":1}`, `{"type":"publish","id":"p","topic":"a","key":"a\u0001"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeClientFrame(b)
		if err != nil {
			var fe *frameError
			require.ErrorAs(t, err, &fe)
			require.LessOrEqual(t, len(fe.id), maxIDLength)
			// The error frame built from it is valid JSON.
			require.True(t, json.Valid(appendErrorAbout(nil, fe.id, fe.topic, err)))
			return
		}
		if fr.guide() && fr.Type != typePublish {
			require.Empty(t, fr.ID)
			require.LessOrEqual(t, len(fr.Topics), maxGuideTopics)
			for _, topic := range fr.Topics {
				_, err := pubsub.ParseFilter(topic)
				require.NoError(t, err)
			}
			return
		}
		if fr.Type != typePublish && fr.Type != typeRequest {
			return
		}
		if fr.guide() {
			fr.ID = "g" // the Go client re-encodes with an id: switchboard.v1
		}
		// A valid publish re-encodes (as the Go client does) to a frame
		// that decodes to the same message, byte for byte.
		enc := appendClientFrame(nil, &fr)
		require.True(t, json.Valid(enc), "%s", enc)
		fr2, err := decodeClientFrame(enc)
		require.NoError(t, err, "%s", enc)
		require.Equal(t, fr.ID, fr2.ID)
		require.Equal(t, fr.Topic, fr2.Topic)
		require.True(t, bytes.Equal(fr.payload, fr2.payload), "payload %q vs %q", fr.payload, fr2.payload)
		require.Equal(t, fr.Retain, fr2.Retain)
		require.Equal(t, fr.Key, fr2.Key)
		require.NoError(t, transport.CheckKey(fr.Key))
		require.Equal(t, len(fr.Header), len(fr2.Header))
		for k, v := range fr.Header {
			require.Equal(t, v, fr2.Header[k])
		}
	})
}

func FuzzDecodeServerFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"message","sub":"s1","topic":"a","id":"x","cursor":"e-1","time":"2026-11-26T07:00:00.123Z","header":{"k":"v"},"data":{"a":1}}`,
		`{"type":"message","sub":"s1","topic":"a","data_b64":"AAE="}`,
		`{"type":"error","id":"p1","code":"forbidden","message":"no"}`,
		`{"type":"reply","id":"r1","data":1}`, `{"type":"gap","sub":"s"}`, `{"type":"message","time":"yesterday"}`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeServerFrame(b)
		if err != nil {
			return
		}
		_, _ = fr.message() // must not panic
	})
}

// FuzzMessageFrame checks the server's message encoder: whatever the topic,
// header and payload, the frame is valid JSON and decodes to the same bytes.
func FuzzMessageFrame(f *testing.F) {
	f.Add("s1", "chat/room1", "k", "v", []byte(`{"text":"hi"}`))
	f.Add("", "a", "", "", []byte{0, 0xff})
	f.Add("\"\\\n", "a/\u2028", "k\x00", "\xff", []byte(" 1"))
	f.Add("s", "t", "k", "v", []byte(`"\ud800"`))
	f.Fuzz(func(t *testing.T, sub, topic, hk, hv string, data []byte) {
		m := &pubsub.Message{Topic: topic, ID: "id-1", Cursor: "e-7", Time: time.Unix(1, 5).UTC(), Data: data}
		if hk != "" {
			m.Header = map[string]string{hk: hv}
		}
		b := appendMessageFrame(nil, string(wire.AppendJSONString(nil, sub)), m)
		require.True(t, json.Valid(b), "%q", b)
		fr, err := decodeServerFrame(b)
		require.NoError(t, err)
		got, err := fr.message()
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got.Data), "payload %q became %q in %s", data, got.Data, b)
		require.Equal(t, "message", fr.Type)
		require.Equal(t, m.Time, got.Time)
		require.Equal(t, m.Cursor, got.Cursor)
	})
}

func TestAppendMessageFrameAllocatesNothing(t *testing.T) {
	m := &pubsub.Message{Topic: "chat/room1", ID: "abc-12", Cursor: "abc-12", Time: time.Now(), Data: []byte(`{"text":"hello"}`)}
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		buf = appendMessageFrame(buf[:0], `"s1"`, m)
	})
	require.Zero(t, allocs)
	require.JSONEq(t, `{"type":"message","sub":"s1","topic":"chat/room1","id":"abc-12","cursor":"abc-12","time":`+
		string(must(json.Marshal(m.Time.UTC().Format(time.RFC3339Nano))))+`,"data":{"text":"hello"}}`, string(buf))
}

func TestEnvCache(t *testing.T) {
	var c wire.EncodeCache
	small := &pubsub.Message{Topic: "a", ID: "x-1", Cursor: "x-1", Time: time.Now(), Data: []byte(`{"v":1}`)}
	big := &pubsub.Message{Topic: "b", Data: bytes.Repeat([]byte{0xff}, wire.MaxCachedPayload+1)}
	for _, m := range []*pubsub.Message{small, big} {
		want := appendEnvelopeFields(nil, m)
		require.Equal(t, want, c.Append(nil, m, appendEnvelopeFields))
		require.Equal(t, want, c.Append(nil, m, appendEnvelopeFields), "second (cached) encoding is the same")
	}
	// A different message with the same content in another slot or the
	// same slot never returns stale bytes.
	for i := range 1000 {
		m := &pubsub.Message{Topic: "t", Data: []byte(strconv.Itoa(i))}
		require.Equal(t, appendEnvelopeFields(nil, m), c.Append(nil, m, appendEnvelopeFields))
	}
	buf := make([]byte, 0, 256)
	require.Zero(t, testing.AllocsPerRun(100, func() { buf = c.Append(buf[:0], small, appendEnvelopeFields) }))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func BenchmarkAppendMessageFrame(b *testing.B) {
	for _, bc := range []struct {
		name string
		m    *pubsub.Message
	}{
		{"json-256B", &pubsub.Message{Topic: "bench/topic", ID: "abcdefghijkl-123456", Cursor: "abcdefghijkl-123456", Time: time.Now(),
			Data: bytes.Repeat([]byte("1"), 256)}},
		{"binary-256B", &pubsub.Message{Topic: "bench/topic", ID: "abcdefghijkl-123456", Cursor: "abcdefghijkl-123456", Time: time.Now(),
			Data: bytes.Repeat([]byte{0xff}, 256)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				buf = appendMessageFrame(buf[:0], `"s1"`, bc.m)
			}
			b.SetBytes(int64(len(buf)))
		})
		// What each connection after the first pays: the writer's frame
		// from the handler's envelope cache.
		b.Run(bc.name+"-cached", func(b *testing.B) {
			var c wire.EncodeCache
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				buf = append(buf[:0], `{"type":"message","sub":"s1"`...)
				buf = c.Append(buf, bc.m, appendEnvelopeFields)
				buf = append(buf, '}')
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkDelivery measures broker Publish → server writer → a raw client
// reading the frame, over loopback.
func BenchmarkDelivery(b *testing.B) {
	benchDelivery(b, nil)
}

func benchDelivery(b *testing.B, obs *transport.Observer) {
	br := pubsub.NewMemory(nil)
	defer br.Close()
	h := NewHandler(br, &Options{Buffer: 4096, Observer: obs})
	srv := newBenchServer(h)
	defer func() { _ = h.Close(); srv.Close() }()
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):], &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":"s","filter":"bench"}`))
	if _, _, err := c.Read(ctx); err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("1"), 256)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := br.Publish(ctx, pubsub.Message{Topic: "bench", Data: data}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
