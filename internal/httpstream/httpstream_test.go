package httpstream

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestQuery(t *testing.T) {
	q, filters, err := Query("topic=a&topic=b/%23&topic=a&x=1", 3, "stream")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b/#"}, filters)
	require.Equal(t, "1", q.Get("x"))

	for _, tc := range []struct {
		name, query string
		want        error
	}{
		{"bad query", "topic=%zz", transport.ErrBadRequest},
		{"no topic", "x=1", transport.ErrBadRequest},
		{"too many", "topic=a&topic=b&topic=c&topic=d", transport.ErrBadRequest},
		{"bad filter", "topic=a/%23/b", pubsub.ErrInvalidFilter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Query(tc.query, 3, "stream")
			require.ErrorIs(t, err, tc.want)
		})
	}
	_, filters, err = Query("topic=a&topic=b&topic=c&topic=d", 0, "stream")
	require.NoError(t, err)
	require.Len(t, filters, 4, "max <= 0 admits any number")
}

func TestOpen(t *testing.T) {
	tr := lifecycle.New(1)
	p := &Preamble{Transport: "test", Methods: "GET, HEAD", Tracker: tr, RetryAfter: "7"}
	parse := func(r *http.Request) (string, []string, error) {
		_, f, err := Query(r.URL.RawQuery, 0, "test")
		return r.URL.RawQuery, f, err
	}
	open := func(method, query string) (*httptest.ResponseRecorder, *Session) {
		rec := httptest.NewRecorder()
		_, s, ok := Open(p, rec, httptest.NewRequest(method, "/?"+query, nil), parse)
		require.Equal(t, ok, s != nil)
		return rec, s
	}
	rec, _ := open(http.MethodPost, "topic=a")
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	rec, _ = open(http.MethodGet, "")
	require.Equal(t, http.StatusBadRequest, rec.Code)

	_, s := open(http.MethodHead, "topic=a")
	require.NotNil(t, s)
	require.Equal(t, 1, tr.Active())
	rec, _ = open(http.MethodGet, "topic=a")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "over the limit")
	require.Equal(t, "7", rec.Header().Get("Retry-After"))

	closed := make(chan error, 1)
	go func() { closed <- tr.Close() }()
	<-s.GoingAway()
	require.True(t, s.IsCut())
	require.Error(t, s.Context().Err(), "a cut session's context is done")
	s.End()
	require.NoError(t, <-closed, "Close returns once the cut session ended")

	refused := false
	p.Closed = func(w http.ResponseWriter) { refused = true; w.WriteHeader(http.StatusOK) }
	rec, _ = open(http.MethodGet, "topic=a")
	require.True(t, refused, "Closed answers once the Tracker is closing")
	require.Equal(t, http.StatusOK, rec.Code)
	require.NoError(t, tr.Close())
}
