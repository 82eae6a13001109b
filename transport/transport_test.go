package transport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEnvelopeRoundTrip(t *testing.T) {
	tm := time.Date(2026, 11, 26, 7, 0, 0, 123456789, time.UTC)
	for _, data := range [][]byte{
		nil, []byte(`{"a": 1}`), []byte(`"str"`), []byte(`[1,2]`), []byte(` 1`), []byte("plain text"),
		{0, 0xff}, []byte(`{"a":1}` + "\n"), []byte("null"), []byte(`"\u00e9"`), []byte("{\"x\":\"\xff\"}"),
	} {
		m := &pubsub.Message{Topic: "a/\"b\"/ü", ID: "id1", Cursor: "ep-1", Time: tm,
			Header: map[string]string{"k": "v\n"}, Data: data, Retain: true}
		env := wire.AppendEnvelope(nil, m)
		require.True(t, json.Valid(env), "%s", env)
		got, err := transport.DecodeEnvelope(env)
		require.NoError(t, err, "%s", env)
		require.Equal(t, string(data), string(got.Data), "payload must round-trip exactly: %s", env)
		require.Equal(t, m.Topic, got.Topic)
		require.Equal(t, m.Header, got.Header)
		require.True(t, tm.Equal(got.Time))
		require.Equal(t, m.Cursor, got.Cursor)
		require.True(t, got.Retain)
	}
	env := wire.AppendEnvelope(nil, &pubsub.Message{Topic: "t", Data: []byte(`{"a": 1}`)})
	require.Equal(t, `{"topic":"t","data":{"a": 1}}`, string(env), "JSON payloads are embedded verbatim")
	env = wire.AppendEnvelope(nil, &pubsub.Message{Topic: "t", Data: []byte("hello world")})
	require.Equal(t, `{"topic":"t","text":"hello world"}`, string(env), "text travels as text")
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `[]`, `{"topic":1}`, `{"data":1,"data_b64":"AA=="}`, `{"data":1,"text":"x"}`, `{"text":"x","data_b64":"AA=="}`, `{"data_b64":"!"}`, `{"time":"yesterday"}`} {
		_, err := transport.DecodeEnvelope([]byte(in))
		require.ErrorIs(t, err, transport.ErrBadRequest, "%q", in)
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"topic":"a","data":{"x":1}}`))
	f.Add([]byte(`{"topic":"a","data_b64":"AAE="}`))
	f.Add([]byte(`{"topic":"a","header":{"k":"v"},"time":"2026-11-26T07:00:00Z"}`))
	f.Add([]byte(`{"data":1,"data_b64":"AA=="}`))
	f.Add([]byte(`{"topic":"a","text":"hello world"}`))
	f.Add([]byte(`{"topic":"a","text":"x","data":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := transport.DecodeEnvelope(in)
		if err != nil {
			if !errors.Is(err, transport.ErrBadRequest) {
				t.Fatalf("error does not wrap ErrBadRequest: %v", err)
			}
			return
		}
		// Whatever decodes re-encodes to an envelope carrying the same bytes.
		again, err := transport.DecodeEnvelope(wire.AppendEnvelope(nil, &m))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !bytes.Equal(again.Data, m.Data) || again.Topic != m.Topic {
			t.Fatalf("round trip changed the message: %q -> %q", m.Data, again.Data)
		}
	})
}

func FuzzEnvelopeData(f *testing.F) {
	f.Add([]byte(`{"a": 1}`))
	f.Add([]byte{0, 1, 0xff})
	f.Add([]byte(" \"x\" "))
	f.Fuzz(func(t *testing.T, data []byte) {
		env := wire.AppendEnvelope(nil, &pubsub.Message{Topic: "t", Data: data})
		m, err := transport.DecodeEnvelope(env)
		if err != nil {
			t.Fatalf("decode %q: %v", env, err)
		}
		if !bytes.Equal(m.Data, data) && !(len(data) == 0 && len(m.Data) == 0) {
			t.Fatalf("payload %q came back as %q", data, m.Data)
		}
	})
}

func TestErrorMapping(t *testing.T) {
	cases := map[error]int{
		pubsub.ErrInvalidTopic:        400,
		transport.ErrUnauthenticated:  401,
		transport.ErrForbidden:        403,
		transport.ErrTooLarge:         413,
		transport.ErrUnavailable:      503,
		pubsub.ErrNotSupported:        501,
		errors.New("boom"):            500,
		context.DeadlineExceeded:      504,
		&http.MaxBytesError{Limit: 1}: 413,
		nil:                           200,
		errors.Join(transport.ErrForbidden, errors.New("no")): 403,
	}
	for err, want := range cases {
		require.Equal(t, want, transport.HTTPStatus(err), "%v", err)
	}
}

func newREST(t *testing.T, opts *transport.RESTOptions) (*httptest.Server, *pubsub.Memory) {
	b := pubsub.NewMemory(nil)
	srv := httptest.NewServer(transport.NewRESTHandler(b, opts))
	t.Cleanup(func() { srv.Close(); b.Close() })
	return srv, b
}

func do(t *testing.T, method, url, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

func TestRESTPublishAndHistory(t *testing.T) {
	srv, b := newREST(t, nil)
	sub, err := b.Subscribe(context.Background(), "#", nil)
	require.NoError(t, err)
	defer sub.Close()

	resp, body := do(t, "POST", srv.URL+"/topics/chat/room1", "hi\x00there", "Sb-Header-Event", "update")
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	var pub transport.PublishResponse
	require.NoError(t, json.Unmarshal(body, &pub))
	m := <-sub.C()
	require.Equal(t, "chat/room1", m.Topic)
	require.Equal(t, "hi\x00there", string(m.Data))
	require.Equal(t, "update", m.Header["event"])
	require.Equal(t, pub.Cursor, m.Cursor)

	resp, _ = do(t, "POST", srv.URL+"/topics/?topic="+"a//b", "empty level")
	require.Equal(t, 200, resp.StatusCode)

	resp, body = do(t, "GET", srv.URL+"/topics/chat/%23?limit=10", "")
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	var hist transport.HistoryResponse
	require.NoError(t, json.Unmarshal(body, &hist))
	require.Len(t, hist.Messages, 1)
	got, err := transport.DecodeEnvelope(hist.Messages[0])
	require.NoError(t, err)
	require.Equal(t, "hi\x00there", string(got.Data))

	resp, body = do(t, "GET", srv.URL+"/topics/chat/%23?since="+hist.Next, "")
	require.Equal(t, 200, resp.StatusCode)
	require.NoError(t, json.Unmarshal(body, &hist))
	require.Empty(t, hist.Messages)
	require.False(t, hist.Gap)
}

func TestRESTErrors(t *testing.T) {
	srv, _ := newREST(t, &transport.RESTOptions{Limits: transport.Limits{MaxMessageBytes: 8}})
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/topics/a/+", "x", 400, "bad_request"},
		{"POST", "/topics/", "x", 400, "bad_request"},
		{"POST", "/topics/a", "123456789", 413, "too_large"},
		{"GET", "/topics/a/%23/b", "", 400, "bad_request"},
		{"GET", "/topics/a?since=nope", "", 400, "bad_request"},
		{"GET", "/topics/a?limit=0", "", 400, "bad_request"},
		{"GET", "/topics/a?limit=x", "", 400, "bad_request"},
		{"DELETE", "/topics/a", "", 405, transport.CodeMethodNotAllowed},
		{"POST", "/topics/a?retain=maybe", "x", 400, "bad_request"},
	}
	for _, tt := range tests {
		resp, body := do(t, tt.method, srv.URL+tt.path, tt.body)
		require.Equal(t, tt.status, resp.StatusCode, "%s %s: %s", tt.method, tt.path, body)
		var e transport.ErrorBody
		require.NoError(t, json.Unmarshal(body, &e), "%s", body)
		require.Equal(t, tt.code, e.Error.Code)
		require.NotEmpty(t, e.Error.Message)
	}
}

func TestRESTAuth(t *testing.T) {
	auth := &transport.Auth{
		Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
			if c.Token != "secret" {
				return nil, errors.New("bad token")
			}
			return &transport.Identity{Subject: "alice"}, nil
		},
		Authorize: func(ctx context.Context, id *transport.Identity, a transport.Action, topic string) error {
			if a == transport.ActionPublish && !strings.HasPrefix(topic, id.Subject+"/") {
				return errors.New("not yours")
			}
			return nil
		},
	}
	srv, _ := newREST(t, &transport.RESTOptions{Auth: auth})
	resp, _ := do(t, "POST", srv.URL+"/topics/alice/x", "x")
	require.Equal(t, 401, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
	resp, _ = do(t, "POST", srv.URL+"/topics/bob/x", "x", "Authorization", "Bearer secret")
	require.Equal(t, 403, resp.StatusCode)
	resp, _ = do(t, "POST", srv.URL+"/topics/alice/x", "x", "Authorization", "Bearer secret")
	require.Equal(t, 200, resp.StatusCode)
	resp, _ = do(t, "GET", srv.URL+"/topics/alice/x?access_token=secret", "")
	require.Equal(t, 200, resp.StatusCode)
}

func TestRESTWithoutHistory(t *testing.T) {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1})
	srv := httptest.NewServer(transport.NewRESTHandler(b, nil))
	defer func() { srv.Close(); b.Close() }()
	resp, _ := do(t, "GET", srv.URL+"/topics/a", "")
	require.Equal(t, 501, resp.StatusCode)
}
