package coalesce_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/coalesce"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDue(t *testing.T) {
	_, wait := coalesce.Due(time.Time{}, time.Second)
	require.False(t, wait, "a connection that never wrote writes at once")
	_, wait = coalesce.Due(time.Now(), 0)
	require.False(t, wait, "no hold")
	_, wait = coalesce.Due(time.Now().Add(-time.Second), 10*time.Millisecond)
	require.False(t, wait, "wrote long ago: quiet")
	due, wait := coalesce.Due(time.Now(), time.Hour)
	require.True(t, wait, "wrote just now: busy")
	require.WithinDuration(t, time.Now().Add(time.Hour), due, time.Minute)
}

// TestQueueReleasesEachAtItsTime: values added with different due times,
// out of order, are each released once, not before their time.
func TestQueueReleasesEachAtItsTime(t *testing.T) {
	var mu sync.Mutex
	released := map[int]time.Time{}
	done := make(chan struct{})
	q := &coalesce.Queue[int]{Release: func(v int) {
		mu.Lock()
		defer mu.Unlock()
		if _, again := released[v]; again {
			t.Errorf("value %d released twice", v) // the timer's goroutine: no require here
		}
		released[v] = time.Now()
		if len(released) == 4 {
			close(done)
		}
	}}
	start := time.Now()
	dues := map[int]time.Duration{0: 40 * time.Millisecond, 1: 10 * time.Millisecond, 2: 30 * time.Millisecond, 3: 10 * time.Millisecond}
	for _, v := range []int{0, 1, 2, 3} {
		q.Add(v, start.Add(dues[v]))
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("not every value was released")
	}
	mu.Lock()
	defer mu.Unlock()
	for v, d := range dues {
		require.False(t, released[v].Before(start.Add(d)), "value %d released %v early", v, start.Add(d).Sub(released[v]))
	}
	require.Zero(t, q.Len())
}
