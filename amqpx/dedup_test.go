package amqpx_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// TestBlackHoleNoDuplicates reproduces issue 14's duplicates: a node
// publishing through a link that black-holes loses its publisher
// confirms, reconnects and publishes the unconfirmed messages again, so
// RabbitMQ routes them twice. Its publishers also retry what failed, with
// the same ID. The subscribing node must deliver every message once.
func TestBlackHoleNoDuplicates(t *testing.T) {
	t.Parallel()
	window := time.Duration(0)
	if v := os.Getenv("SB_TEST_DEDUP_WINDOW"); v != "" { // -1ns shows the duplicates without dedup
		d, err := time.ParseDuration(v)
		require.NoError(t, err)
		window = d
	}
	for _, history := range []bool{false, true} {
		t.Run("history="+strconv.FormatBool(history), func(t *testing.T) {
			t.Parallel()
			dups := blackHoleRun(t, history, window)
			require.Zero(t, dups, "messages delivered twice")
		})
	}
}

func blackHoleRun(t *testing.T, history bool, window time.Duration) (dups int) {
	sp := newSpace(t)
	px, viaProxy := newProxy(t, sp.url)
	logs := newLogCounter()
	mod := func(o *amqpx.Options) { o.History, o.DedupWindow = history, window }
	pub := sp.brokerAt(viaProxy, mod, func(o *amqpx.Options) {
		o.KeepAlive = time.Second
		o.PublishWait = 20 * time.Second
		o.Logger = slog.New(logs)
	})
	node := sp.broker(mod)
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub, err := node.Subscribe(c, "bh/#", &pubsub.SubscribeOptions{Buffer: 10000})
	require.NoError(t, err)

	const publishers, each = 8, 60
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		retries  int
		progress = make(chan struct{}, publishers*each)
	)
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("p%d-%d", p, i)
				for c.Err() == nil { // retry with the same key, as a publisher should
					pctx, pcancel := context.WithTimeout(c, 3*time.Second)
					_, err := pub.Publish(pctx, pubsub.Message{Topic: "bh/x", ID: id, Data: []byte(id)})
					pcancel()
					if err == nil {
						break
					}
					mu.Lock()
					retries++
					mu.Unlock()
				}
				progress <- struct{}{}
			}
		})
	}
	for hole := range 3 { // three black holes, each until the node gives up on the link
		for range publishers * 5 {
			<-progress
		}
		px.BlackHole()
		require.Eventually(t, func() bool { return logs.count("amqpx: connection closed") > hole },
			30*time.Second, 10*time.Millisecond, "the publishing node noticed the black hole")
		px.Restore()
	}
	wg.Wait()
	_, err = pub.Publish(c, pubsub.Message{Topic: "bh/end", Data: []byte("end")})
	require.NoError(t, err)

	seen := map[string]int{}
	for {
		var m *pubsub.Message
		select {
		case m = <-sub.C():
			require.NotNil(t, m, "subscription ended: %v", sub.Err())
		case <-c.Done():
			t.Fatalf("the end marker did not arrive; %d distinct of %d", len(seen), publishers*each)
		}
		if m.Topic == "bh/end" {
			break
		}
		seen[m.ID]++
	}
	require.Len(t, seen, publishers*each, "every message arrived")
	for _, n := range seen {
		dups += n - 1
	}
	if history { // the stream holds the copies: a history read skips them
		page, err := node.History(c, "bh/x", pubsub.HistoryOptions{Limit: 1000})
		require.NoError(t, err)
		read := map[string]int{}
		for _, m := range page.Messages {
			read[m.ID]++
			if read[m.ID] > 1 {
				dups++
			}
		}
		require.Len(t, read, publishers*each, "history holds every message")
	}
	t.Logf("history=%v window=%v: %d retried publishes, %d duplicates", history, window, retries, dups)
	return dups
}
