// Package backoff is the reconnect delay every Switchboard client and
// broker uses: exponential from a minimum to a maximum, with jitter.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff computes the wait before a reconnect attempt. Min <= 0 means
// 100 ms; Max below Min means Min. The zero value is usable.
type Backoff struct {
	Min, Max time.Duration
}

// Delay returns the wait before attempt n (1 for the first retry): Min
// doubled n-1 times, capped at Max, then drawn uniformly from its upper
// half so that clients cut off together do not come back together.
// Attempt 0 or less waits nothing.
func (b Backoff) Delay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	lo := b.Min
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	hi := max(b.Max, lo)
	d := lo << min(n-1, 30)
	if d <= 0 || d > hi {
		d = hi
	}
	return d/2 + rand.N(d/2+1)
}
