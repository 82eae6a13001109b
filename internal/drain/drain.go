// Package drain counts a handler's requests in progress so its Shutdown can
// stop new ones, tell the running ones to finish, and wait for them.
package drain

import (
	"context"
	"sync"
)

// Tracker is the Shutdown bookkeeping of one handler. Create it with New;
// it is safe for concurrent use.
type Tracker struct {
	mu       sync.Mutex
	active   int
	shutdown bool
	closing  chan struct{} // closed by Shutdown
	drained  chan struct{} // closed when active drops to 0 after Shutdown
}

// New returns a Tracker accepting requests.
func New() *Tracker { return &Tracker{closing: make(chan struct{})} }

// Enter counts a request; it returns false after Shutdown, and the request
// must then be refused. Every true Enter is paired with Leave.
func (t *Tracker) Enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutdown {
		return false
	}
	t.active++
	return true
}

// Leave ends a request counted by Enter.
func (t *Tracker) Leave() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.active--
	if t.shutdown && t.active == 0 && t.drained != nil {
		close(t.drained)
		t.drained = nil
	}
}

// Closing is closed when Shutdown starts: running requests finish up.
func (t *Tracker) Closing() <-chan struct{} { return t.closing }

// Active returns the number of requests in progress.
func (t *Tracker) Active() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active
}

// Shutdown refuses new requests, closes Closing, and waits until the
// requests in progress have left or ctx is done. It is idempotent.
func (t *Tracker) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	if !t.shutdown {
		t.shutdown = true
		close(t.closing)
		if t.active > 0 {
			t.drained = make(chan struct{})
		}
	}
	if t.active == 0 {
		t.mu.Unlock()
		return nil
	}
	drained := t.drained
	t.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
