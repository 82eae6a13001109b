package transport_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// sinkWriter is a ResponseWriter that keeps only the size and the last
// bytes of the body, so that measuring a handler's allocations does not
// count a recorder holding the whole response.
type sinkWriter struct {
	h      http.Header
	status int
	n      int64
	head   []byte // first 64 bytes
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
	if len(s.head) < 64 {
		s.head = append(s.head, b[:min(len(b), 64-len(s.head))]...)
	}
	s.tail = append(s.tail, b[max(0, len(b)-256):]...)
	if len(s.tail) > 256 {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-256:]...)
	}
	return len(b), nil
}

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

// fillHistory publishes n messages of size bytes (not JSON, so they travel
// as base64, the largest encoding) to topic.
func fillHistory(t testing.TB, b pubsub.Broker, topic string, n, size int) {
	for i := 0; i < n; i++ {
		data := bytes.Repeat([]byte{0xff}, size) // the broker keeps it
		data[0] = byte(i)
		_, err := b.Publish(t.Context(), pubsub.Message{Topic: topic, Data: data})
		require.NoError(t, err)
	}
}

// The attack of issue 13: a thousand large messages in history and one
// GET ?limit=1000. The page is cut at Limits.MaxResponseBytes and streamed,
// so what the handler allocates for the read stays under twice that
// budget, and the client is told to read on. (Before: the envelopes, the
// encoder's buffer and its HTML-escaped copy each held the whole page.)
func TestRESTHistoryReadMemoryBounded(t *testing.T) {
	const n, size = 64, 1 << 20
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: 2 * n})
	defer b.Close()
	fillHistory(t, b, "big/x", n, size)
	h := transport.NewRESTHandler(b, nil)

	w := &sinkWriter{}
	got := allocated(func() {
		h.ServeHTTP(w, httptest.NewRequest("GET", "/topics/big/x?limit=1000", nil))
	})
	t.Logf("GET ?limit=1000 over %d x %d B: %d B written, %.1f MiB allocated (budget %d MiB)",
		n, size, w.n, float64(got)/(1<<20), transport.DefaultMaxResponseBytes>>20)
	require.Equal(t, http.StatusOK, w.status)
	require.LessOrEqual(t, got, uint64(2*transport.DefaultMaxResponseBytes), "allocated for one read")
	require.LessOrEqual(t, w.n, int64(transport.DefaultMaxResponseBytes)+256, "response bytes")
	var trailer struct {
		Next string `json:"next"`
		More bool   `json:"more"`
	}
	i := bytes.Index(w.tail, []byte(`],"next":`))
	require.GreaterOrEqual(t, i, 0, "%s", w.tail)
	require.NoError(t, json.Unmarshal(append([]byte("{"), w.tail[i+2:]...), &trailer), "%s", w.tail)
	require.True(t, trailer.More, "the client is told to read on")
	require.NotEmpty(t, trailer.Next)
}

// Paging with a small budget returns every message once, in order, each
// page within the budget (but never empty), and "more" until the end.
func TestRESTHistoryPagesByBytes(t *testing.T) {
	const budget = 600
	srv, b := newREST(t, &transport.RESTOptions{Limits: transport.Limits{MaxResponseBytes: budget}})
	for i := 0; i < 20; i++ {
		size := 50 + 40*(i%5)
		if i == 7 {
			size = 2000 // bigger than a page: sent alone
		}
		_, err := b.Publish(t.Context(), pubsub.Message{Topic: "p/q", Data: bytes.Repeat([]byte(strconv.Itoa(i%10)), size)})
		require.NoError(t, err)
	}
	var seen []string
	since, pages := "", 0
	for more := true; more; pages++ {
		require.Less(t, pages, 40)
		resp, body := do(t, "GET", srv.URL+"/topics/p/q?limit=1000&since="+since, "")
		require.Equal(t, 200, resp.StatusCode, "%s", body)
		var hist transport.HistoryResponse
		require.NoError(t, json.Unmarshal(body, &hist), "%s", body)
		require.NotEmpty(t, hist.Messages, "page %d", pages)
		size := len(hist.Messages) - 1 // commas
		for _, raw := range hist.Messages {
			size += len(raw)
			m, err := transport.DecodeEnvelope(raw)
			require.NoError(t, err)
			seen = append(seen, m.Cursor)
		}
		if len(hist.Messages) > 1 {
			require.LessOrEqual(t, size, budget, "page %d", pages)
		}
		since, more = hist.Next, hist.More
	}
	require.Len(t, seen, 20)
	for i := 1; i < len(seen); i++ {
		a, _ := pubsub.ParseCursor(seen[i-1])
		c, _ := pubsub.ParseCursor(seen[i])
		require.Less(t, a.Seq, c.Seq)
	}
	require.Greater(t, pages, 5, "the budget cut the pages")
}

// BenchmarkRESTHistoryRead reports what one GET ?limit=1000 allocates over
// SB_HISTORY_MSGS (default 64) messages of SB_HISTORY_SIZE (default 1 MiB)
// bytes; issue 13's figure is SB_HISTORY_MSGS=1000:
//
//	SB_HISTORY_MSGS=1000 go test -run '^$' -bench RESTHistoryRead -benchtime 3x ./transport
func BenchmarkRESTHistoryRead(b *testing.B) {
	n, size := envInt("SB_HISTORY_MSGS", 64), envInt("SB_HISTORY_SIZE", 1<<20)
	br := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: n + 1})
	defer br.Close()
	fillHistory(b, br, "big/x", n, size)
	h := transport.NewRESTHandler(br, nil)
	var total uint64
	var written int64
	for b.Loop() {
		w := &sinkWriter{}
		total += allocated(func() {
			h.ServeHTTP(w, httptest.NewRequest("GET", "/topics/big/x?limit=1000", nil))
		})
		written = w.n
	}
	b.ReportMetric(float64(total)/float64(b.N)/(1<<20), "MiB-alloc/read")
	b.ReportMetric(float64(written)/(1<<20), "MiB-body")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
