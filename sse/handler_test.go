package sse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// setup serves a Handler over a fresh memory broker.
func setup(t *testing.T, mo pubsub.MemoryOptions, o *Options) (*pubsub.Memory, *Handler, *httptest.Server) {
	t.Helper()
	b := pubsub.NewMemory(&mo)
	h := NewHandler(b, o)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, h.Shutdown(ctx))
		srv.Close()
		require.NoError(t, b.Close())
	})
	return b, h, srv
}

func publish(t *testing.T, b pubsub.Broker, topic, data string, header map[string]string) pubsub.Receipt {
	t.Helper()
	r, err := b.Publish(context.Background(), pubsub.Message{Topic: topic, Data: []byte(data), Header: header})
	require.NoError(t, err)
	return r
}

// rawStream opens a stream and returns its event reader.
type rawStream struct {
	resp *http.Response
	er   *eventReader
}

func open(t *testing.T, u string, hdr map[string]string) *rawStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	require.Equal(t, "no", resp.Header.Get("X-Accel-Buffering"))
	return &rawStream{resp: resp, er: newEventReader(resp.Body, 0)}
}

func (s *rawStream) next(t *testing.T) Event {
	t.Helper()
	ev, err := s.er.next()
	require.NoError(t, err)
	return ev
}

func TestStreamDeliversEvents(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, nil)
	s := open(t, srv.URL+"?topic=chat/%2B", nil)
	open := s.next(t)
	require.Equal(t, "sb-open", open.Type)
	require.Equal(t, DefaultRetry, s.er.retry)

	r1 := publish(t, b, "chat/a", "hello", nil)
	r2 := publish(t, b, "chat/b", "line1\nline2\r\nline3\rline4", map[string]string{"event": "update"})
	publish(t, b, "other", "not for us", nil)
	r3 := publish(t, b, "chat/a", "", nil)

	ev := s.next(t)
	require.Equal(t, Event{ID: r1.Cursor, Data: "hello"}, ev)
	ev = s.next(t)
	require.Equal(t, Event{ID: r2.Cursor, Type: "update", Data: "line1\nline2\nline3\nline4"}, ev)
	ev = s.next(t)
	require.Equal(t, Event{ID: r3.Cursor, Data: ""}, ev)
}

func TestStreamResumesWithLastEventID(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, nil)
	var cursors []string
	for i := range 10 {
		cursors = append(cursors, publish(t, b, "t", fmt.Sprint(i), nil).Cursor)
	}
	// Header resume.
	s := open(t, srv.URL+"?topic=t", map[string]string{"Last-Event-ID": cursors[3]})
	for i := 4; i < 10; i++ {
		require.Equal(t, Event{ID: cursors[i], Data: fmt.Sprint(i)}, s.next(t))
	}
	// Query resume, and the header wins over the query.
	s = open(t, srv.URL+"?topic=t&lastEventId="+cursors[7], nil)
	require.Equal(t, Event{ID: cursors[8], Data: "8"}, s.next(t))
	s = open(t, srv.URL+"?topic=t&lastEventId="+cursors[1], map[string]string{"Last-Event-ID": cursors[8]})
	require.Equal(t, Event{ID: cursors[9], Data: "9"}, s.next(t))
	r := publish(t, b, "t", "live", nil)
	require.Equal(t, Event{ID: r.Cursor, Data: "live"}, s.next(t))
}

func TestStreamResetsOnGapAndBadCursor(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{HistorySize: 3}, nil)
	old := publish(t, b, "t", "0", nil).Cursor
	for i := 1; i < 6; i++ {
		publish(t, b, "t", fmt.Sprint(i), nil)
	}
	head := publish(t, b, "x", "head", nil).Cursor
	for _, tc := range []struct{ name, id, reason string }{
		{"gap", old, "gap"},
		{"other epoch", "zzz-1", "gap"},
		{"malformed", "not a cursor", "invalid-cursor"},
		{"too long", strings.Repeat("a", 300), "invalid-cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, srv.URL+"?topic=t", map[string]string{"Last-Event-ID": tc.id})
			ev := s.next(t)
			require.Equal(t, "sb-reset", ev.Type)
			require.Equal(t, head, ev.ID)
			require.JSONEq(t, `{"reason":"`+tc.reason+`","cursor":"`+head+`"}`, ev.Data)
		})
	}
	s := open(t, srv.URL+"?topic=t", map[string]string{"Last-Event-ID": old})
	require.Equal(t, "sb-reset", s.next(t).Type)
	r := publish(t, b, "t", "live", nil)
	require.Equal(t, Event{ID: r.Cursor, Data: "live"}, s.next(t))
}

func TestStreamWithoutHistoryResets(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{HistorySize: -1}, nil)
	s := open(t, srv.URL+"?topic=t", nil)
	ev := s.next(t)
	require.Equal(t, Event{Type: "sb-open", Data: "{}"}, ev)
	publish(t, b, "t", "a", nil)
	require.Equal(t, Event{Data: "a"}, s.next(t))

	s = open(t, srv.URL+"?topic=t", map[string]string{"Last-Event-ID": "abc-1"})
	ev = s.next(t)
	require.Equal(t, "sb-reset", ev.Type)
	require.JSONEq(t, `{"reason":"no-history"}`, ev.Data)
}

func TestStreamRefusesBadRequests(t *testing.T) {
	auth := &transport.Auth{
		Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
			switch c.Token {
			case "good":
				return &transport.Identity{Subject: "u"}, nil
			case "banned":
				return nil, transport.ErrForbidden
			}
			return nil, errors.New("who are you")
		},
		Authorize: func(ctx context.Context, id *transport.Identity, a transport.Action, topic string) error {
			if strings.HasPrefix(topic, "secret") {
				return errors.New("not yours")
			}
			return nil
		},
	}
	_, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{Auth: auth, Limits: transport.Limits{MaxSubscriptions: 2}})
	for _, tc := range []struct {
		name   string
		method string
		query  string
		status int
		code   string
	}{
		{"no topic", "GET", "access_token=good", 400, "bad_request"},
		{"bad filter", "GET", "access_token=good&topic=a/%23/b", 400, "bad_request"},
		{"bad query", "GET", "access_token=good&topic=%zz", 400, "bad_request"},
		{"too many filters", "GET", "access_token=good&topic=a&topic=b&topic=c", 400, "bad_request"},
		{"share", "GET", "access_token=good&topic=$share/g/a", 400, "bad_request"},
		{"bad format", "GET", "access_token=good&topic=a&format=xml", 400, "bad_request"},
		{"no token", "GET", "topic=a", 401, "unauthorized"},
		{"banned", "GET", "access_token=banned&topic=a", 403, "forbidden"},
		{"not allowed", "GET", "access_token=good&topic=a&topic=secret/x", 403, "forbidden"},
		{"post", "POST", "access_token=good&topic=a", 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+"?"+tc.query, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var body transport.ErrorBody
			require.NoError(t, jsonDecode(resp, &body))
			require.Equal(t, tc.code, body.Error.Code)
		})
	}
}

func TestStreamConnectionLimit(t *testing.T) {
	_, h, srv := setup(t, pubsub.MemoryOptions{}, &Options{Limits: transport.Limits{MaxConnections: 1}})
	s := open(t, srv.URL+"?topic=a", nil)
	s.next(t)
	resp, err := http.Get(srv.URL + "?topic=a")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	require.Equal(t, 1, h.Active())
}

func TestStreamMultipleFilters(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, nil)
	s := open(t, srv.URL+"?topic=a/%23&topic=a/b&topic=c&topic=a/b", nil)
	s.next(t)
	var want []string
	for i := range 50 {
		topic := []string{"a/b", "c", "a/x", "d"}[i%4]
		r := publish(t, b, topic, fmt.Sprint(i), nil)
		if topic != "d" {
			want = append(want, r.Cursor)
		}
	}
	for _, c := range want {
		require.Equal(t, c, s.next(t).ID) // in order, overlapping filters deduplicated
	}
	// Resume across the filters.
	s = open(t, srv.URL+"?topic=a/%23&topic=c", map[string]string{"Last-Event-ID": want[10]})
	for _, c := range want[11:] {
		require.Equal(t, c, s.next(t).ID)
	}
}

func TestStreamEnvelopeIsByteExact(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{Format: FormatEnvelope,
		EventName: func(m *pubsub.Message) string { return "ev:" + m.Topic }})
	s := open(t, srv.URL+"?topic=%23", nil)
	s.next(t)
	payloads := []string{`{"a":1}`, "{\"a\":\r\n1}", "{\"a\":\n1}", "bin\x00\xff\r", "", "text\nwith lines", `"quoted"`}
	for i, p := range payloads {
		publish(t, b, fmt.Sprintf("t/%d", i), p, map[string]string{"k": "v\r\n"})
	}
	for i, p := range payloads {
		ev := s.next(t)
		require.Equal(t, fmt.Sprintf("ev:t/%d", i), ev.Type)
		m, err := transport.DecodeEnvelope([]byte(ev.Data))
		require.NoError(t, err, ev.Data)
		require.Equal(t, p, string(m.Data), "payload %d", i)
		require.Equal(t, "v\r\n", m.Header["k"])
		require.Equal(t, ev.ID, m.Cursor)
	}
}

// TestStreamFormatQuery checks that a request chooses the other format with
// format=, and that the handler's own format is unchanged for the others.
func TestStreamFormatQuery(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, nil)
	plain := open(t, srv.URL+"?topic=chat/%2B", nil)
	env := open(t, srv.URL+"?topic=chat/%2B&format=envelope", nil)
	same := open(t, srv.URL+"?topic=chat/%2B&format=data", nil)
	for _, s := range []*rawStream{plain, env, same} {
		s.next(t) // sb-open
	}
	r := publish(t, b, "chat/a", "hello world", map[string]string{"event": "update"})
	require.Equal(t, Event{ID: r.Cursor, Type: "update", Data: "hello world"}, plain.next(t))
	require.Equal(t, Event{ID: r.Cursor, Type: "update", Data: "hello world"}, same.next(t))
	ev := env.next(t)
	require.Equal(t, "update", ev.Type)
	require.Equal(t, r.Cursor, ev.ID)
	require.JSONEq(t, fmt.Sprintf(`{"topic":"chat/a","id":%q,"cursor":%q,"time":%q,"header":{"event":"update"},"text":"hello world"}`,
		r.ID, r.Cursor, r.Time.UTC().Format(time.RFC3339Nano)), ev.Data)
}

func TestStreamBadEventNameIsDropped(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, nil)
	s := open(t, srv.URL+"?topic=t", nil)
	s.next(t)
	publish(t, b, "t", "x", map[string]string{"event": "a\nb"})
	require.Equal(t, "", s.next(t).Type)
}

func TestStreamRetainedMessagesCarryNoID(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, nil)
	_, err := b.Publish(context.Background(), pubsub.Message{Topic: "state", Data: []byte("on"), Retain: true})
	require.NoError(t, err)
	head := publish(t, b, "other", "x", nil).Cursor
	s := open(t, srv.URL+"?topic=state", nil)
	open := s.next(t)
	require.Equal(t, Event{ID: head, Type: "sb-open", Data: `{"cursor":"` + head + `"}`}, open)
	require.Equal(t, Event{ID: head, Data: "on"}, s.next(t)) // id unchanged: sticky head
}

func TestStreamKeepAlive(t *testing.T) {
	_, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{KeepAlive: 5 * time.Millisecond, Retry: -1})
	resp, err := http.Get(srv.URL + "?topic=t")
	require.NoError(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 0, 256)
	tmp := make([]byte, 64)
	for !strings.Contains(string(buf), ": ping\n\n: ping\n\n") {
		n, err := resp.Body.Read(tmp)
		require.NoError(t, err)
		buf = append(buf, tmp[:n]...)
	}
	require.NotContains(t, string(buf), "retry:")
}

func TestStreamCORS(t *testing.T) {
	_, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{CORS: &transport.CORS{AllowedOrigins: []string{"https://app.example"}, AllowCredentials: true}})
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"?topic=t", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "last-event-id")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, "https://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "Last-Event-ID")

	s := open(t, srv.URL+"?topic=t", map[string]string{"Origin": "https://app.example"})
	require.Equal(t, "https://app.example", s.resp.Header.Get("Access-Control-Allow-Origin"))
	s = open(t, srv.URL+"?topic=t", map[string]string{"Origin": "https://evil.example"})
	require.Empty(t, s.resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestShutdownDrainsStreams(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := open(t, srv.URL+"?topic=t", nil)
	s.next(t)
	r := publish(t, b, "t", "last", nil)
	require.NoError(t, h.Shutdown(context.Background()))
	require.Equal(t, 0, h.Active())
	require.Equal(t, Event{ID: r.Cursor, Data: "last"}, s.next(t)) // written before the stream ended
	_, err := s.er.next()
	require.ErrorIs(t, err, errEOF())

	// After Shutdown: 200, retry, no events.
	resp, err := http.Get(srv.URL + "?topic=t")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	er := newEventReader(resp.Body, 0)
	_, err = er.next()
	require.ErrorIs(t, err, errEOF())
	require.Equal(t, DefaultRetry, er.retry)
	require.NoError(t, h.Shutdown(context.Background())) // idempotent
}

func TestStreamEndsWhenBrokerCloses(t *testing.T) {
	b := pubsub.NewMemory(nil)
	h := NewHandler(b, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := open(t, srv.URL+"?topic=t&topic=u", nil)
	s.next(t)
	require.NoError(t, b.Close())
	_, err := s.er.next()
	require.ErrorIs(t, err, errEOF())
	// The reconnect finds the broker closed: 200 with retry:, not a 503
	// that would stop EventSource for good.
	resp, err := http.Get(srv.URL + "?topic=t")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	er := newEventReader(resp.Body, 0)
	_, err = er.next()
	require.ErrorIs(t, err, errEOF())
	require.Equal(t, DefaultRetry, er.retry)
	require.NoError(t, h.Shutdown(context.Background()))
}

func TestQueryEscaping(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, nil)
	s := open(t, srv.URL+"?topic="+url.QueryEscape("$SYS/a b/#"), nil)
	s.next(t)
	r := publish(t, b, "$SYS/a b/c", "x", nil)
	require.Equal(t, r.Cursor, s.next(t).ID)
}

// TestStreamMultiFilterResumeStaysInOrder resumes a stream of several
// filters over a backlog far larger than the subscription buffer: the
// backlog is merged from history, so events arrive in cursor order, each
// once, then live ones follow.
func TestStreamMultiFilterResumeStaysInOrder(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{Buffer: 4, Retry: -1})
	start := publish(t, b, "x", "start", nil).Cursor
	var want []string
	for i := range 700 {
		topic := []string{"a/1", "b", "a/2", "c"}[i%4]
		r := publish(t, b, topic, fmt.Sprint(i), nil)
		if topic != "c" {
			want = append(want, r.Cursor)
		}
	}
	s := open(t, srv.URL+"?topic=a/%2B&topic=b&topic=a/1", map[string]string{"Last-Event-ID": start})
	for i, c := range want {
		ev := s.next(t)
		require.Equal(t, c, ev.ID, "event %d", i)
	}
	live := publish(t, b, "b", "live", nil).Cursor
	require.Equal(t, live, s.next(t).ID)
}

func TestStreamResumeFlushesHeadersAtOnce(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{Retry: -1})
	c := publish(t, b, "t", "x", nil).Cursor
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"?topic=t", nil)
	req.Header.Set("Last-Event-ID", c)
	resp, err := http.DefaultClient.Do(req) // returns once the headers arrive
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestStreamWriteTimeoutEndsStalledClient: a client that stops reading
// (its TCP window full) is disconnected after WriteTimeout, even when its
// subscription buffer never overflows.
func TestStreamWriteTimeoutEndsStalledClient(t *testing.T) {
	b, h, srv := setup(t, pubsub.MemoryOptions{}, &Options{WriteTimeout: 50 * time.Millisecond, Buffer: 4096})
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("GET /?topic=t HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	// 300 × 64 KiB is more than loopback TCP buffers hold, and fewer
	// messages than the subscription buffer: only the write timeout can
	// end the stream.
	payload := []byte(strings.Repeat("x", 64<<10)) // one slice, shared by every message
	for range 300 {
		_, err := b.Publish(context.Background(), pubsub.Message{Topic: "t", Data: payload})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return h.Active() == 0 }, 5*time.Second, time.Millisecond, "the stalled stream was never ended")
	require.Equal(t, 0, h.Active())
}

// TestStreamOverHTTP2 runs a stream over HTTP/2 (the hub serves h2c and
// TLS deployments negotiate h2): flushing and resuming work the same.
func TestStreamOverHTTP2(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, &Options{WriteTimeout: time.Second})
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	defer h.Shutdown(context.Background())

	var got []Event
	c := &Client{URL: srv.URL + "?topic=t", HTTPClient: srv.Client()}
	first := ""
	err := c.Run(context.Background(), func(ev Event) error {
		if ev.Type == "sb-open" {
			first = publish(t, b, "t", "one", nil).Cursor
			publish(t, b, "t", "two", nil)
			return nil
		}
		got = append(got, ev)
		if len(got) == 2 {
			return errDone
		}
		return nil
	})
	require.ErrorIs(t, err, errDone)
	require.Equal(t, "one", got[0].Data)
	require.Equal(t, first, got[0].ID)
	require.Equal(t, "two", got[1].Data)

	resp, err := srv.Client().Get(srv.URL + "?topic=t")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 2, resp.ProtoMajor)
}
