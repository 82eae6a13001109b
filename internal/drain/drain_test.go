package drain_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/drain"
)

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestWaitReturnsWhenDrained(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(1)
	release := make(chan struct{})
	go func() { <-release; wg.Done() }()
	go func() { close(release) }()
	// A long timeout: Wait returns because wg is done, not because of it.
	drained := drain.Wait(&wg, time.Hour)
	require.True(t, closed(drained))
}

func TestWaitGivesUp(t *testing.T) {
	var wg sync.WaitGroup
	wg.Add(1)
	drained := drain.Wait(&wg, time.Millisecond)
	require.False(t, closed(drained), "wg is not done")
	wg.Done()
	<-drained
}

func TestWaitOff(t *testing.T) {
	for _, timeout := range []time.Duration{0, -1} {
		var wg sync.WaitGroup
		wg.Add(1)
		drained := drain.Wait(&wg, timeout)
		require.False(t, closed(drained), "wg is not done")
		wg.Done()
		<-drained
	}
}
