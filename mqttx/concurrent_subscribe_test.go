package mqttx_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

// TestConcurrentSubscribeSameFilter: subscriptions to one filter started at
// once all receive what is published after they returned. Each sends a
// SUBSCRIBE with a new subscription identifier and takes only messages
// carrying its own or a later one; when two SUBSCRIBEs went out in the
// other order than their identifiers were given, the server kept the older
// identifier and the later subscription never received anything.
func TestConcurrentSubscribeSameFilter(t *testing.T) {
	b := dialMosquitto(t, nil)
	for round := range 10 {
		filter := prefix(t) + "r" + strconv.Itoa(round) + "/#"
		topic := filter[:len(filter)-1] + "x"
		const n = 12
		subs := make([]pubsub.Subscription, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				subs[i], errs[i] = b.Subscribe(ctx, filter, nil)
			}()
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
		}
		_, err := b.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte("hello")})
		require.NoError(t, err)
		for i, s := range subs {
			select {
			case m := <-s.C():
				require.Equal(t, "hello", string(m.Data))
			case <-time.After(5 * time.Second):
				t.Fatalf("round %d: subscription %d of %d got nothing", round, i, n)
			}
			require.NoError(t, s.Close())
		}
		cancel()
	}
}
