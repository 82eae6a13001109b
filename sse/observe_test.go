package sse

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/obstest"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// TestObserverSeesStreamLifecycle: a stream is reported as a connection
// and a subscription, each event written as a delivery with its bytes, a
// refusal by Auth as a subscription ended "auth", and a stream the server
// closes as ended "shutdown".
func TestObserverSeesStreamLifecycle(t *testing.T) {
	rec := obstest.New()
	b := pubsub.NewMemory(nil)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	h := NewHandler(b, &Options{Observer: rec.Observer(), Auth: &transport.Auth{
		Authorize: func(_ context.Context, _ *transport.Identity, _ transport.Action, topic string) error {
			if topic == "secret" {
				return transport.ErrForbidden
			}
			return nil
		},
	}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "?topic=secret")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	ended := rec.WaitKind(t, obstest.SubEnded, 1)
	require.Equal(t, transport.EndAuth, ended[0].Reason)
	require.True(t, ended[0].Refused)
	require.Equal(t, []string{"secret"}, ended[0].Filters)
	require.Empty(t, rec.Of(obstest.ConnOpened), "refused before admission")

	s := open(t, srv.URL+"?topic=chat/%2B", nil)
	require.Equal(t, "sb-open", s.next(t).Type)
	publish(t, b, "chat/a", "hello", nil)
	require.Equal(t, "hello", s.next(t).Data)
	del := rec.WaitKind(t, obstest.Delivered, 1)
	require.Equal(t, "chat/a", del[0].Topic)
	require.Equal(t, "sse", del[0].Transport)
	require.Greater(t, del[0].Bytes, len("hello"), "the event's bytes, framing included")

	require.NoError(t, h.Close())
	rec.WaitKind(t, obstest.ConnClosed, 1)
	var kinds []string
	for _, e := range rec.Events() {
		kinds = append(kinds, e.Kind+" "+string(e.Reason))
		require.Equal(t, "sse", e.Transport)
	}
	require.Equal(t, []string{"sub_ended auth", "conn_opened ", "sub_started ", "delivered ", "sub_ended shutdown", "conn_closed "}, kinds)
}

// TestObserverSeesClientLeave: a client that goes away ends its
// subscription with reason "client".
func TestObserverSeesClientLeave(t *testing.T) {
	rec := obstest.New()
	_, _, srv := setup(t, pubsub.MemoryOptions{}, &Options{Observer: rec.Observer()})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?topic=t", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	rec.WaitKind(t, obstest.SubStarted, 1)
	cancel()
	resp.Body.Close()
	ended := rec.WaitKind(t, obstest.SubEnded, 1)
	require.Equal(t, transport.EndClient, ended[0].Reason)
	rec.WaitKind(t, obstest.ConnClosed, 1)
}
