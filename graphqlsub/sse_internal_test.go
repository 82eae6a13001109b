package graphqlsub

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// burstExec's subscriptions yield n results that are all waiting before
// the stream starts, then end.
type burstExec struct {
	feedExec
	n int
}

func (b *burstExec) Subscribe(context.Context, *Request) (<-chan *Result, error) {
	ch := make(chan *Result, b.n)
	for i := range b.n {
		ch <- event(i)
	}
	close(ch)
	return ch, nil
}

// flushCounter counts the flushes of a recorded response.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushCounter) Flush() {
	f.flushes++
	f.ResponseRecorder.Flush()
}

// TestSSECoalescesReadyResults: results that are ready together go out in
// one write and flush, in order, each its own event.
func TestSSECoalescesReadyResults(t *testing.T) {
	h := NewHandler(&burstExec{n: 100}, nil)
	defer h.Close()
	r := httptest.NewRequest(http.MethodGet, "/graphql?query="+url.QueryEscape("subscription { x }"), nil)
	r.Header.Set("Accept", "text/event-stream")
	w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)
	var want strings.Builder
	for i := range 100 {
		want.WriteString("event: next\ndata: {\"data\":{\"n\":" + strconv.Itoa(i) + "}}\n\n")
	}
	want.WriteString("event: complete\ndata:\n\n")
	require.Equal(t, want.String(), w.Body.String())
	require.Equal(t, 3, w.flushes, "the head, the 100 results, complete")
}
