package pubsub_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/switchboard-go/switchboard/pubsub"
)

// benchFanout publishes to subs matching subscriptions (each drained by a
// goroutine) and reports deliveries per second.
func benchFanout(b *testing.B, subs int, filter func(i int) string, nonMatching int) {
	m := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1})
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range nonMatching {
		if _, err := m.Subscribe(ctx, "elsewhere/"+strconv.Itoa(i)+"/x", &pubsub.SubscribeOptions{Buffer: 1}); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range subs {
		s, err := m.Subscribe(ctx, filter(i), &pubsub.SubscribeOptions{Buffer: 4096, Overflow: pubsub.OverflowDropOldest})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range s.C() {
			}
		}()
	}
	msg := pubsub.Message{Topic: "bench/room/1", Data: []byte(`{"price":42}`)}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Publish(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if subs > 0 {
		b.ReportMetric(float64(b.N*subs)/b.Elapsed().Seconds(), "deliveries/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
	}
	cancel()
	wg.Wait()
}

// BenchmarkEnqueue measures the broker's side of a delivery alone: the
// subscribers do not run during the loop, so no receiver is woken and each
// delivery is one enqueue on a buffered channel. Run it with
// -benchtime=1000x (the buffers hold 2,048 messages).
func BenchmarkEnqueue(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run("subs="+strconv.Itoa(n), func(b *testing.B) {
			m := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: -1})
			defer m.Close()
			ctx := context.Background()
			for range n {
				if _, err := m.Subscribe(ctx, "bench/+/1", &pubsub.SubscribeOptions{Buffer: 2048, Overflow: pubsub.OverflowDropOldest}); err != nil {
					b.Fatal(err)
				}
			}
			msg := pubsub.Message{Topic: "bench/room/1", Data: []byte(`{"price":42}`)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Publish(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

func exact(int) string    { return "bench/room/1" }
func wildcard(int) string { return "bench/+/1" }

func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run("exact/subs="+strconv.Itoa(n), func(b *testing.B) { benchFanout(b, n, exact, 0) })
		b.Run("wildcard/subs="+strconv.Itoa(n), func(b *testing.B) { benchFanout(b, n, wildcard, 0) })
	}
	b.Run("nonmatching=0", func(b *testing.B) { benchFanout(b, 0, exact, 0) })
	b.Run("nonmatching=10000", func(b *testing.B) { benchFanout(b, 0, exact, 10000) })
}

func BenchmarkFilterMatch(b *testing.B) {
	for _, f := range []string{"sport/tennis/player1", "sport/+/player1", "sport/#", "+/+/+"} {
		flt, _ := pubsub.ParseFilter(f)
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !flt.Match("sport/tennis/player1") {
					b.Fatal("no match")
				}
			}
		})
	}
}

func BenchmarkHistoryReplay(b *testing.B) {
	m := pubsub.NewMemory(nil)
	defer m.Close()
	ctx := context.Background()
	first, _ := m.Publish(ctx, pubsub.Message{Topic: "h/0"})
	for i := range 9999 {
		_, _ = m.Publish(ctx, pubsub.Message{Topic: "h/" + strconv.Itoa(i%10)})
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := m.Subscribe(ctx, "h/+", &pubsub.SubscribeOptions{Since: first.Cursor, Buffer: 10000})
		if err != nil {
			b.Fatal(err)
		}
		for range 9999 {
			<-s.C()
		}
		s.Close()
	}
	b.ReportMetric(float64(b.N*9999)/b.Elapsed().Seconds(), "replayed/s")
}
