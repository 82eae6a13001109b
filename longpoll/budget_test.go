package longpoll

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// sinkWriter is a ResponseWriter that keeps only the size and the last
// bytes of the body, so that measuring the handler's allocations does not
// count a recorder holding the whole response.
type sinkWriter struct {
	h      http.Header
	status int
	n      int64
	tail   []byte // last 256 bytes
}

func (s *sinkWriter) Header() http.Header {
	if s.h == nil {
		s.h = http.Header{}
	}
	return s.h
}

func (s *sinkWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

func (s *sinkWriter) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	s.n += int64(len(b))
	s.tail = append(s.tail, b[max(0, len(b)-256):]...)
	if len(s.tail) > 256 {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-256:]...)
	}
	return len(b), nil
}

func (s *sinkWriter) Flush() {}

// allocated returns the bytes f allocated on the heap: an upper bound on
// the extra memory it held at its peak.
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Issue 13's history attack over long polling: many large messages after
// the cursor and a poll asking for all of them. The batch is cut at
// Limits.MaxResponseBytes and streamed, so the poll allocates less than
// twice that budget; "more" and the cursor of the last message sent tell
// the client to poll on. (Before: the whole batch was built in one buffer.)
func TestPollReadMemoryBounded(t *testing.T) {
	const n, size = 64, 1 << 20
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: 2 * n})
	defer b.Close()
	for i := range n {
		data := bytes.Repeat([]byte{0xff}, size) // the broker keeps it
		data[0] = byte(i)
		_, err := b.Publish(t.Context(), pubsub.Message{Topic: "big/x", Data: data})
		require.NoError(t, err)
	}
	h := NewHandler(b, &Options{MaxBatch: 1000})
	defer h.Close()

	w := &sinkWriter{}
	got := allocated(func() {
		h.ServeHTTP(w, httptest.NewRequest("GET", "/poll?topic=big/x&limit=1000&timeout=0&cursor="+url.QueryEscape(epochStart(t, b)), nil))
	})
	t.Logf("poll limit=1000 over %d x %d B: %d B written, %.1f MiB allocated (budget %d MiB)",
		n, size, w.n, float64(got)/(1<<20), transport.DefaultMaxResponseBytes>>20)
	require.Equal(t, http.StatusOK, w.status)
	require.LessOrEqual(t, got, uint64(2*transport.DefaultMaxResponseBytes), "allocated for one poll")
	require.LessOrEqual(t, w.n, int64(transport.DefaultMaxResponseBytes)+256, "response bytes")
	i := bytes.Index(w.tail, []byte(`],"cursor":`))
	require.GreaterOrEqual(t, i, 0, "%s", w.tail)
	var r response
	require.NoError(t, json.Unmarshal(append([]byte(`{"messages":[`), w.tail[i:]...), &r), "%s", w.tail)
	require.True(t, r.More, "the client is told to poll on")
	require.NotEmpty(t, r.Cursor)
}

// epochStart returns a cursor before the broker's first message.
func epochStart(t *testing.T, b *pubsub.Memory) string {
	p, err := b.History(t.Context(), "#", pubsub.HistoryOptions{Limit: 1})
	require.NoError(t, err)
	require.NotEmpty(t, p.Messages)
	c, err := pubsub.ParseCursor(p.Messages[0].Cursor)
	require.NoError(t, err)
	c.Seq--
	return c.String()
}

// Polling with a small byte budget, with one and with several filters,
// returns every message once and in order, every batch within the budget
// (a message larger than the budget comes alone).
func TestPollBatchesByBytes(t *testing.T) {
	const budget = 500
	for _, filters := range [][]string{{"t/#"}, {"t/a", "t/b", "t/+"}} {
		t.Run(fmt.Sprint(filters), func(t *testing.T) {
			b, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{MaxBatch: 1000, Limits: transport.Limits{MaxResponseBytes: budget}})
			q := url.Values{"topic": filters, "timeout": {"0"}}
			start := poll(t, srv.URL+"?"+q.Encode())
			var want []string
			for i := range 30 {
				data := bytes.Repeat([]byte("x"), 40+30*(i%4))
				if i == 11 {
					data = bytes.Repeat([]byte("y"), 1500)
				}
				r, err := b.Publish(t.Context(), pubsub.Message{Topic: []string{"t/a", "t/b", "t/c"}[i%3], Data: data})
				require.NoError(t, err)
				want = append(want, r.Cursor)
			}
			var got []string
			cursor, batches := start.Cursor, 0
			for more := true; more; batches++ {
				require.Less(t, batches, 60)
				q.Set("cursor", cursor)
				r := poll(t, srv.URL+"?"+q.Encode())
				require.False(t, r.Gap)
				require.NotEmpty(t, r.Messages)
				size := len(r.Messages) - 1
				for _, m := range r.Messages {
					raw, err := json.Marshal(m)
					require.NoError(t, err)
					size += len(raw)
					got = append(got, m.Cursor)
				}
				if len(r.Messages) > 1 {
					require.LessOrEqual(t, size, budget)
				}
				cursor, more = r.Cursor, r.More
			}
			require.Equal(t, want, got)
			require.Greater(t, batches, 5, "the budget cut the batches")
		})
	}
}
