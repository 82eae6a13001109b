// Package drain implements the first step of a broker's Close: wait a
// bounded time for the calls in flight (Publish, Subscribe) to finish.
package drain

import (
	"sync"
	"time"
)

// Wait waits until wg is done or timeout has passed, whichever comes
// first; a timeout of 0 or less does not wait. It returns a channel closed
// once wg is done, for the caller to wait on at the end of its shutdown
// (after it has cut what the calls still wait for).
func Wait(wg *sync.WaitGroup, timeout time.Duration) <-chan struct{} {
	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	if timeout > 0 {
		t := time.NewTimer(timeout)
		select {
		case <-drained:
		case <-t.C:
		}
		t.Stop()
	}
	return drained
}
