package longpoll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/stretchr/testify/require"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

type response struct {
	Messages []transport.Envelope `json:"messages"`
	Cursor   string               `json:"cursor"`
	Gap      bool                 `json:"gap"`
	More     bool                 `json:"more"`
	History  *bool                `json:"history"`
	GoAway   bool                 `json:"goaway"`
}

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

func publish(t testing.TB, b pubsub.Broker, topic, data string) pubsub.Receipt {
	r, err := b.Publish(context.Background(), pubsub.Message{Topic: topic, Data: []byte(data)})
	if err != nil {
		t.Error(err)
	}
	return r
}

// polled is the outcome of one poll.
type polled struct {
	status int
	r      response
	err    error
}

// fetch polls once without testify, so goroutines may call it; check its
// outcome on the test goroutine (ok).
func fetch(ctx context.Context, u string) polled {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return polled{err: err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return polled{err: err}
	}
	defer resp.Body.Close()
	p := polled{status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK {
		if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
			p.err = fmt.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
			return p
		}
		p.err = json.NewDecoder(resp.Body).Decode(&p.r)
	}
	return p
}

// goPoll polls in a goroutine; its outcome arrives on the channel.
func goPoll(u string) <-chan polled {
	c := make(chan polled, 1)
	go func() { c <- fetch(context.Background(), u) }()
	return c
}

// ok requires a 200 answer and returns it (test goroutine only).
func (p polled) ok(t testing.TB) response {
	t.Helper()
	require.NoError(t, p.err)
	require.Equal(t, http.StatusOK, p.status)
	return p.r
}

func get(t testing.TB, ctx context.Context, u string) (int, response) {
	t.Helper()
	p := fetch(ctx, u)
	require.NoError(t, p.err)
	return p.status, p.r
}

func poll(t testing.TB, u string) response {
	t.Helper()
	return fetch(context.Background(), u).ok(t)
}

func TestPollAnswersAtOnceWithBacklog(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, nil)
	first := publish(t, b, "x", "before")
	var rs []pubsub.Receipt
	for i := range 5 {
		rs = append(rs, publish(t, b, "t", fmt.Sprint(i)))
		publish(t, b, "other", "no")
	}
	r := poll(t, srv.URL+"?topic=t&limit=3&cursor="+first.Cursor)
	require.Len(t, r.Messages, 3)
	require.True(t, r.More)
	require.False(t, r.Gap)
	for i, m := range r.Messages {
		require.Equal(t, rs[i].Cursor, m.Cursor)
		require.Equal(t, "t", m.Topic)
		require.JSONEq(t, fmt.Sprint(i), string(m.Data))
	}
	require.Equal(t, rs[2].Cursor, r.Cursor)
	r = poll(t, srv.URL+"?topic=t&cursor="+r.Cursor)
	require.Len(t, r.Messages, 2)
	require.False(t, r.More)
	require.Equal(t, rs[4].Cursor, r.Messages[1].Cursor)
	// Nothing new: an empty batch after the timeout, same position.
	r2 := poll(t, srv.URL+"?topic=t&timeout=10ms&cursor="+r.Cursor)
	require.Empty(t, r2.Messages)
	require.NotEmpty(t, r2.Cursor)
	r3 := poll(t, srv.URL+"?topic=t&timeout=0&cursor="+r2.Cursor)
	require.Empty(t, r3.Messages)
	require.Equal(t, r2.Cursor, r3.Cursor)
}

func TestPollHoldsUntilAMessageArrives(t *testing.T) {
	b, h, srv := setup(t, pubsub.MemoryOptions{}, nil)
	done := goPoll(srv.URL + "?topic=t&timeout=10s")
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	// The poll has no cursor: it starts from the head and waits.
	publish(t, b, "other", "x")
	rec := publish(t, b, "t", `{"hello":"world"}`)
	r := (<-done).ok(t)
	require.Len(t, r.Messages, 1)
	require.JSONEq(t, `{"hello":"world"}`, string(r.Messages[0].Data))
	require.Equal(t, rec.Cursor, r.Cursor)
}

func TestPollLoopSeesEveryMessageOnceInOrder(t *testing.T) {
	for _, filters := range [][]string{{"t/#"}, {"t/a", "t/b", "t/+"}} {
		t.Run(strings.Join(filters, ","), func(t *testing.T) {
			b, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{MaxBatch: 7})
			q := url.Values{"topic": filters, "timeout": {"2s"}}
			start := poll(t, srv.URL+"?timeout=0&"+q.Encode())
			const n = 500
			var wg sync.WaitGroup
			want := make([]string, 0, n)
			var mu sync.Mutex
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n {
					topic := []string{"t/a", "t/b", "t/c", "u"}[i%4]
					r := publish(t, b, topic, fmt.Sprint(i))
					if topic != "u" {
						mu.Lock()
						want = append(want, r.Cursor)
						mu.Unlock()
					}
				}
			}()
			var got []string
			cursor := start.Cursor
			for len(got) < n*3/4 {
				q.Set("cursor", cursor)
				r := poll(t, srv.URL+"?"+q.Encode())
				require.False(t, r.Gap)
				for _, m := range r.Messages {
					got = append(got, m.Cursor)
				}
				cursor = r.Cursor
			}
			wg.Wait()
			require.Equal(t, want, got)
		})
	}
}

func TestPollReportsGaps(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{HistorySize: 3}, nil)
	old := publish(t, b, "t", "0").Cursor
	for i := 1; i < 6; i++ {
		publish(t, b, "t", fmt.Sprint(i))
	}
	r := poll(t, srv.URL+"?topic=t&cursor="+old)
	require.True(t, r.Gap)
	require.Len(t, r.Messages, 3) // from the oldest kept
	require.JSONEq(t, "3", string(r.Messages[0].Data))

	head := publish(t, b, "t", "6").Cursor
	for _, c := range []string{"garbage", "zz-1", strings.Repeat("9", 300)} {
		r = poll(t, srv.URL+"?topic=t&timeout=5s&cursor="+url.QueryEscape(c))
		require.True(t, r.Gap, c)
		if c == "zz-1" { // another epoch: history from the oldest kept
			require.Len(t, r.Messages, 3)
			continue
		}
		require.Empty(t, r.Messages) // malformed: answered at once from now
		require.Equal(t, head, r.Cursor)
	}
}

func TestPollReleasedWhenClientLeaves(t *testing.T) {
	_, h, srv := setup(t, pubsub.MemoryOptions{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?topic=a&topic=b&timeout=60", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.Eventually(t, func() bool { return h.Active() == 0 }, 5*time.Second, time.Millisecond)
}

func TestPollTimeoutIsCapped(t *testing.T) {
	_, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{MaxTimeout: 20 * time.Millisecond})
	r := poll(t, srv.URL+"?topic=a&timeout=3600")
	require.Empty(t, r.Messages)
}

func TestPollRefusesBadRequests(t *testing.T) {
	auth := &transport.Auth{
		Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
			if c.Token != "good" {
				return nil, errors.New("no")
			}
			return &transport.Identity{}, nil
		},
		Authorize: func(ctx context.Context, id *transport.Identity, a transport.Action, topic string) error {
			if topic == "secret" {
				return errors.New("no")
			}
			return nil
		},
	}
	_, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{Auth: auth, Limits: transport.Limits{MaxSubscriptions: 2}})
	for _, tc := range []struct {
		query  string
		status int
	}{
		{"access_token=good", 400},
		{"access_token=good&topic=a/%23/b", 400},
		{"access_token=good&topic=a&timeout=-1s", 400},
		{"access_token=good&topic=a&timeout=soon", 400},
		{"access_token=good&topic=a&limit=0", 400},
		{"access_token=good&topic=a&topic=b&topic=c", 400},
		{"access_token=good&topic=%zz", 400},
		{"topic=a", 401},
		{"access_token=good&topic=secret", 403},
	} {
		status, _ := get(t, context.Background(), srv.URL+"?"+tc.query)
		require.Equal(t, tc.status, status, tc.query)
	}
	resp, err := http.Post(srv.URL+"?topic=a&access_token=good", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestPollLimitAndShutdown(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, &Options{Limits: transport.Limits{MaxConnections: 1}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	start := poll(t, srv.URL+"?topic=t&timeout=0")
	done := goPoll(srv.URL + "?topic=t&timeout=60&cursor=" + start.Cursor)
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	resp, err := http.Get(srv.URL + "?topic=t")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))

	require.NoError(t, h.Shutdown(context.Background()))
	r := (<-done).ok(t)
	require.Empty(t, r.Messages)
	require.Equal(t, start.Cursor, r.Cursor) // nothing lost: same position
	status, _ := get(t, context.Background(), srv.URL+"?topic=t")
	require.Equal(t, http.StatusServiceUnavailable, status)
	publish(t, b, "t", "x")
}

func TestPollWithoutHistory(t *testing.T) {
	b, h, srv := setup(t, pubsub.MemoryOptions{HistorySize: -1}, nil)
	r := poll(t, srv.URL+"?topic=t&timeout=0")
	require.NotNil(t, r.History)
	require.False(t, *r.History)
	require.False(t, r.Gap)
	done := goPoll(srv.URL + "?topic=t&timeout=10s&cursor=x")
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	// The subscription may start just after Active counts the poll: publish
	// until the poll answers.
	for i := 0; ; i++ {
		publish(t, b, "t", "live")
		select {
		case p := <-done:
			r = p.ok(t)
			require.True(t, r.Gap)
			require.NotEmpty(t, r.Messages)
			data, err := wire.DecodeData(r.Messages[0].Data, r.Messages[0].DataB64)
			require.NoError(t, err)
			require.Equal(t, "live", string(data))
			return
		case <-time.After(time.Millisecond):
		}
	}
}

func TestPollCORS(t *testing.T) {
	b, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{CORS: &transport.CORS{AllowedOrigins: []string{"*"}}})
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"?topic=t", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, "GET", resp.Header.Get("Access-Control-Allow-Methods"))

	publish(t, b, "t", "1")
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"?topic=t&timeout=0", nil)
	req.Header.Set("Origin", "https://app.example")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
}

// Without history, a poll over overlapping filters still answers each
// message once, in order (one subscription for all the filters).
func TestPollWithoutHistoryOverlappingFilters(t *testing.T) {
	b, h, srv := setup(t, pubsub.MemoryOptions{HistorySize: -1}, nil)
	done := goPoll(srv.URL + "?topic=a/%23&topic=a/b&topic=%2B/b&timeout=10s")
	require.Eventually(t, func() bool { return h.Active() == 1 }, 5*time.Second, time.Millisecond)
	// The subscription may start just after Active counts the poll: publish
	// until the poll answers.
	for i := 0; ; i++ {
		publish(t, b, "a/b", fmt.Sprint(i))
		select {
		case p := <-done:
			r := p.ok(t)
			require.NotEmpty(t, r.Messages)
			prev := -1
			for _, m := range r.Messages {
				var n int
				require.NoError(t, json.Unmarshal(m.Data, &n))
				require.Greater(t, n, prev, "each message once, in order")
				prev = n
			}
			return
		case <-time.After(time.Millisecond):
		}
	}
}
