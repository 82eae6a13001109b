package pubsubtest

import (
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
)

// UntilEnd reads sub until its channel closes and returns what it read.
// The test fails when the subscription has not ended within d: a bound in
// place of an unbounded range over sub.C(), which would hang until go
// test's timeout. Call it from the test's goroutine.
func UntilEnd(t testing.TB, sub pubsub.Subscription, d time.Duration) []*pubsub.Message {
	t.Helper()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	var got []*pubsub.Message
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				return got
			}
			got = append(got, m)
		case <-timeout.C:
			t.Fatalf("subscription did not end within %v (%d messages read)", d, len(got))
		}
	}
}
