package lifecycle_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// session leaves its tracker when told to go away (graceful) or cut,
// unless stubborn, in which case only Cut ends it.
type session struct {
	t             *lifecycle.Tracker
	stubborn      bool
	asked         func() // called on GoAway, if set
	goAways, cuts atomic.Int32
	left          atomic.Bool
}

func (s *session) GoAway() {
	s.goAways.Add(1)
	if s.asked != nil {
		s.asked()
	}
	if !s.stubborn {
		s.leave()
	}
}

func (s *session) Cut() { s.cuts.Add(1); s.leave() }

func (s *session) leave() {
	if s.left.CompareAndSwap(false, true) {
		go s.t.Leave(s) // a session leaves from its own goroutine
	}
}

func TestTrackerLimit(t *testing.T) {
	tr := lifecycle.New(1)
	require.NoError(t, tr.Enter())
	err := tr.Enter()
	require.ErrorIs(t, err, transport.ErrUnavailable)
	require.Equal(t, 503, transport.HTTPStatus(err))
	require.Equal(t, 1, tr.Active())
	tr.Leave(nil)
	require.NoError(t, tr.Enter())
	tr.Leave(nil)
	require.NoError(t, tr.Close())
	require.ErrorIs(t, tr.Enter(), transport.ErrUnavailable, "closed: refused")
}

func TestTrackerShutdownGoesAwayAndWaits(t *testing.T) {
	tr := lifecycle.New(0)
	a := &session{t: tr}
	require.NoError(t, tr.Enter())
	tr.Attach(a)
	require.NoError(t, tr.Enter()) // a counted session that watches Closing
	go func() { <-tr.Closing(); tr.Leave(nil) }()

	require.NoError(t, tr.Shutdown(context.Background()))
	require.EqualValues(t, 1, a.goAways.Load())
	require.Zero(t, a.cuts.Load(), "Shutdown that finishes in time cuts nothing")
	require.Zero(t, tr.Active())
	select {
	case <-tr.Cutting():
		t.Fatal("Cutting closed by a graceful shutdown")
	default:
	}
	require.ErrorIs(t, tr.Enter(), transport.ErrUnavailable)
	require.NoError(t, tr.Shutdown(context.Background()), "idempotent")
	require.NoError(t, tr.Close(), "Close after Shutdown")
}

func TestTrackerShutdownDeadlineCuts(t *testing.T) {
	tr := lifecycle.New(0)
	s := &session{t: tr, stubborn: true}
	require.NoError(t, tr.Enter())
	tr.Attach(s)
	ctx, cancel := context.WithCancel(context.Background())
	s.asked = cancel // the deadline passes once the session was asked
	require.ErrorIs(t, tr.Shutdown(ctx), context.Canceled)
	require.EqualValues(t, 1, s.goAways.Load())
	require.EqualValues(t, 1, s.cuts.Load(), "the deadline cuts what did not go away")
	require.Zero(t, tr.Active(), "Shutdown waits for the cut sessions too")
	<-tr.Cutting()
}

func TestTrackerCloseCutsAndWaits(t *testing.T) {
	tr := lifecycle.New(0)
	s := &session{t: tr, stubborn: true}
	require.NoError(t, tr.Enter())
	tr.Attach(s)
	require.NoError(t, tr.Close())
	require.Zero(t, s.goAways.Load(), "Close does not ask, it cuts")
	require.EqualValues(t, 1, s.cuts.Load())
	require.Zero(t, tr.Active())
	require.NoError(t, tr.Close(), "idempotent")
	require.EqualValues(t, 1, s.cuts.Load(), "a second Close signals nobody again")
}

func TestTrackerAttachAfterShutdownSignalsAtOnce(t *testing.T) {
	tr := lifecycle.New(0)
	require.NoError(t, tr.Enter()) // entered before Shutdown, attached after
	done := make(chan error, 1)
	go func() { done <- tr.Shutdown(context.Background()) }()
	<-tr.Closing()
	s := &session{t: tr}
	tr.Attach(s)
	require.NoError(t, <-done)
	require.EqualValues(t, 1, s.goAways.Load(), "a late session still hears the go-away")
}
