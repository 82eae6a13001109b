package ws

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/pubsub"
)

// BenchmarkFanout measures deliveries at the highest rate: subs raw clients
// subscribed to one topic over loopback, each reading every frame, while
// the benchmark publishes 256-byte messages as fast as the slowest client
// keeps up with (at most 64 messages ahead). One op is one delivery; the
// figure includes the clients' reading, which is the same for every
// version of the server.
func BenchmarkFanout(b *testing.B) {
	const subs = 100
	br := pubsub.NewMemory(nil)
	defer br.Close()
	h := NewHandler(br, &Options{Buffer: 1024})
	srv := newBenchServer(h)
	defer func() { _ = h.Close(); srv.Close() }()
	ctx := context.Background()
	var received atomic.Int64
	conns := make([]*websocket.Conn, subs)
	for i := range conns {
		c, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):], &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadLimit(-1)
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":"s","filter":"bench"}`))
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			var buf [1024]byte
			for {
				_, r, err := c.Reader(ctx)
				if err != nil {
					return
				}
				for {
					if _, err := r.Read(buf[:]); err != nil {
						break
					}
				}
				received.Add(1)
			}
		})
	}
	data := bytes.Repeat([]byte("1"), 256)
	msgs := (b.N + subs - 1) / subs
	b.ReportAllocs()
	b.ResetTimer()
	for i := range msgs {
		for int64(i-64)*subs > received.Load() {
			// Wait for the clients: spin with a yield (no timer).
			waitYield()
		}
		if _, err := br.Publish(ctx, pubsub.Message{Topic: "bench", Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	for received.Load() < int64(msgs*subs) {
		waitYield()
	}
	b.StopTimer()
	for _, c := range conns {
		_ = c.CloseNow()
	}
	wg.Wait()
}

func waitYield() { runtime.Gosched() }
