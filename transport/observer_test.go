package transport_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/obstest"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestRESTPublishIsObserved(t *testing.T) {
	rec := obstest.New()
	b := pubsub.NewMemory(nil)
	defer b.Close()
	srv := httptest.NewServer(transport.NewRESTHandler(b, &transport.RESTOptions{Observer: rec.Observer()}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/topics/a/b", "text/plain", strings.NewReader("hello"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []obstest.Event{{Kind: obstest.Published, Transport: "rest", Topic: "a/b", Bytes: 5}}, rec.Events())
}

func TestReasonOf(t *testing.T) {
	for err, want := range map[error]transport.EndReason{
		nil:                          transport.EndClient,
		context.Canceled:             transport.EndClient,
		&pubsub.SlowConsumerError{}:  transport.EndSlowConsumer,
		pubsub.ErrGap:                transport.EndGap,
		transport.ErrForbidden:       transport.EndAuth,
		transport.ErrUnauthenticated: transport.EndAuth,
		transport.ErrLimit:           transport.EndLimit,
		errors.Join(transport.ErrForbidden, pubsub.ErrLimit): transport.EndLimit,
		transport.ErrUnavailable:                             transport.EndShutdown,
		pubsub.ErrClosed:                                     transport.EndBroker,
		errors.New("write: broken pipe"):                     transport.EndError,
		context.DeadlineExceeded:                             transport.EndError,
	} {
		require.Equal(t, want, transport.ReasonOf(err), "%v", err)
	}
}

// A nil Observer, and one with no hooks set, are no-ops.
func TestNilObserver(t *testing.T) {
	for _, o := range []*transport.Observer{nil, {}} {
		o.OnConnOpened("x")
		o.OnConnClosed("x")
		o.OnSubStarted("x", "f")
		o.OnSubEnded("x", transport.EndClient, nil, "f")
		o.OnSubRefused("x", transport.ErrForbidden, "f")
		o.OnPublished(transport.PublishEvent{})
		o.OnDelivered("x", nil, 0)
		require.False(t, o.Observes())
	}
	require.Nil(t, transport.JoinObservers(nil, nil))
}

func TestJoinObserversCallsEach(t *testing.T) {
	a, b := obstest.New(), obstest.New()
	o := transport.JoinObservers(a.Observer(), nil, b.Observer())
	o.OnConnOpened("ws")
	o.OnSubStarted("ws", "f")
	o.OnSubEnded("ws", transport.EndGap, pubsub.ErrGap, "f")
	o.OnDelivered("ws", &pubsub.Message{Topic: "f"}, 3)
	o.OnPublished(transport.PublishEvent{Transport: "ws", Message: &pubsub.Message{Topic: "f"}, Bytes: 1})
	o.OnConnClosed("ws")
	o.OnSubRefused("ws", errors.New("no reason given"), "g")
	require.Len(t, a.Events(), 7)
	last := a.Events()[6]
	require.True(t, last.Refused)
	require.Equal(t, transport.EndAuth, last.Reason, "a refusal naming no reason counts as auth")
	require.Equal(t, a.Events(), b.Events())
	single := a.Observer()
	require.Same(t, single, transport.JoinObservers(nil, single))
}

func TestObserveBrokerReportsPublishesAndKeepsHistory(t *testing.T) {
	rec := obstest.New()
	mem := pubsub.NewMemory(nil)
	defer mem.Close()
	b := transport.ObserveBroker(mem, rec.Observer(), "graphql")
	_, err := b.Publish(context.Background(), pubsub.Message{Topic: "a", Data: []byte("xy")})
	require.NoError(t, err)
	require.Equal(t, []obstest.Event{{Kind: obstest.Published, Transport: "graphql", Topic: "a", Bytes: 2}}, rec.Events())
	_, ok := b.(pubsub.HistoryReader)
	require.True(t, ok, "the wrapper keeps history")
	require.Same(t, pubsub.Broker(mem), transport.ObserveBroker(mem, nil, "x"), "nothing to report: b itself")
}
