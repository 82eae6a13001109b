package redisx_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/redisx"
)

// BenchmarkPublish measures confirmed publishes (the publish script has
// run: the entry is in the stream, and the reply carries its cursor), one
// publisher and 16 concurrent publishers, read back by a subscriber on
// the node reader, or by a consumer group as well.
func BenchmarkPublish(b *testing.B) {
	for _, mode := range []string{"node", "group"} {
		for _, par := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/publishers=%d", mode, par), func(b *testing.B) {
				benchPublish(b, par, mode == "group")
			})
		}
	}
}

func benchPublish(b *testing.B, par int, group bool) {
	br := newSpace(b).broker()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := br.Subscribe(ctx, "bench/#", &pubsub.SubscribeOptions{Overflow: pubsub.OverflowDropOldest})
	if err != nil {
		b.Fatal(err)
	}
	var drain sync.WaitGroup
	drain.Go(func() {
		for range sub.C() {
		}
	})
	defer drain.Wait()
	if group {
		g, err := br.Subscribe(ctx, "bench/#", &pubsub.SubscribeOptions{Group: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		drain.Go(func() {
			for range g.C() {
			}
		})
	}
	data := make([]byte, 256)
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N / par
	for p := range par {
		n := per
		if p == 0 {
			n += b.N % par
		}
		wg.Go(func() {
			for range n {
				if _, err := br.Publish(ctx, pubsub.Message{Topic: "bench/x", Data: data}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	b.StopTimer()
	cancel()
}

// BenchmarkLatency publishes at 1,000 msg/s on one node and measures the
// time until a subscriber on another node receives each message.
func BenchmarkLatency(b *testing.B) {
	sp := newSpace(b)
	pubNode, subNode := sp.broker(), sp.broker()
	ctx := context.Background()
	sub, err := subNode.Subscribe(ctx, "lat/#", &pubsub.SubscribeOptions{Buffer: 4096})
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range sub.C() {
			ns, _ := strconv.ParseInt(string(m.Data), 10, 64)
			lat = append(lat, time.Since(time.Unix(0, ns)))
			if len(lat) == b.N {
				return
			}
		}
	}()
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	for range b.N {
		<-tick.C
		wg.Go(func() { // publish does not wait for the previous reply
			_, err := pubNode.Publish(ctx, pubsub.Message{Topic: "lat/x", Data: strconv.AppendInt(nil, time.Now().UnixNano(), 10)})
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		b.Fatalf("received %d of %d", len(lat), b.N)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*90/100].Microseconds()), "p90-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

// BenchmarkFanout10k puts 10,000 plain subscribers on one node (100 topics,
// 100 subscribers each) and measures publish-to-all-delivered throughput,
// the process CPU per message, and what Redis holds for the node: no
// consumer group and the node's connections (the reader's and the
// pool's), whatever the number of subscribers.
func BenchmarkFanout10k(b *testing.B) {
	sp := newSpace(b)
	br := sp.broker()
	ctx := context.Background()
	const topics, per = 100, 100
	var wg sync.WaitGroup
	var subs []pubsub.Subscription
	for i := range topics * per {
		s, err := br.Subscribe(ctx, fmt.Sprintf("fan/%d", i%topics), &pubsub.SubscribeOptions{Buffer: 1 << 14})
		if err != nil {
			b.Fatal(err)
		}
		subs = append(subs, s)
	}
	groups, err := sp.client().XInfoGroups(ctx, br.Stream()).Result()
	if err != nil && err.Error() != "ERR no such key" {
		b.Fatal(err)
	}

	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for _, s := range subs {
		wg.Go(func() {
			for range b.N / topics {
				<-s.C()
			}
		})
	}
	data := make([]byte, 64)
	for i := range b.N / topics * topics {
		if _, err := br.Publish(ctx, pubsub.Message{Topic: fmt.Sprintf("fan/%d", i%topics), Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(max(b.N, 1)), "cpu-µs/msg")
	b.ReportMetric(float64(len(groups)), "groups")
	b.ReportMetric(float64(redisx.Conns(br)), "conns")
}
