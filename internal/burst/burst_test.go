package burst_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/burst"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestNoWorkLostNoTwoRuns: many goroutines add work and kick; runs take
// all the work there is, one at a time, and nothing is left behind.
func TestNoWorkLostNoTwoRuns(t *testing.T) {
	var (
		g       burst.Gate
		work    atomic.Int64 // added, not yet taken
		taken   atomic.Int64
		inRun   atomic.Int32
		overlap atomic.Bool
		runs    sync.WaitGroup
	)
	run := func() {
		defer runs.Done()
		for {
			g.Begin()
			if inRun.Add(1) != 1 {
				overlap.Store(true)
			}
			taken.Add(work.Swap(0))
			inRun.Add(-1)
			if !g.Idle() {
				return
			}
		}
	}
	const kickers, each = 8, 5000
	var wg sync.WaitGroup
	for range kickers {
		wg.Go(func() {
			for range each {
				work.Add(1)
				if g.Kick() {
					runs.Add(1)
					go run()
				}
			}
		})
	}
	wg.Wait()
	runs.Wait()
	require.False(t, overlap.Load(), "two runs at once")
	require.Equal(t, int64(kickers*each), taken.Load(), "work left behind")
}
