package longpoll

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/obstest"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// TestObserverSeesPolls: each poll is a session and a subscription; the
// messages it answers with are deliveries, with their envelope bytes.
func TestObserverSeesPolls(t *testing.T) {
	rec := obstest.New()
	b, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{Observer: rec.Observer()})
	ctx := context.Background()
	r0 := publish(t, b, "t", "zero")
	publish(t, b, "t", "one")
	publish(t, b, "t", "two")
	code, res := get(t, ctx, srv.URL+"?topic=t&timeout=0&cursor="+r0.Cursor)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, res.Messages, 2)
	rec.WaitKind(t, obstest.ConnClosed, 1)
	var kinds []string
	for _, e := range rec.Events() {
		require.Equal(t, "longpoll", e.Transport)
		kinds = append(kinds, e.Kind+" "+string(e.Reason)+e.Topic)
		if e.Kind == obstest.Delivered {
			require.Greater(t, e.Bytes, len("one"))
		}
	}
	require.Equal(t, []string{"conn_opened ", "sub_started ", "delivered t", "delivered t", "sub_ended client", "conn_closed "}, kinds)
}

// TestObserverSeesHeldPollCut: a held poll the handler cuts ends
// "shutdown".
func TestObserverSeesHeldPollCut(t *testing.T) {
	rec := obstest.New()
	_, h, srv := setup(t, pubsub.MemoryOptions{}, &Options{Observer: rec.Observer()})
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"?topic=t&timeout=30", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	rec.WaitKind(t, obstest.SubStarted, 1)
	require.NoError(t, h.Close())
	require.Equal(t, http.StatusServiceUnavailable, <-done)
	ended := rec.WaitKind(t, obstest.SubEnded, 1)
	require.Equal(t, transport.EndShutdown, ended[0].Reason)
}
