package grpcx_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"connectrpc.com/connect"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/pubsub"
)

// h2cClients returns n gRPC clients, each on its own HTTP/2 connection
// (Go's server allows 250 concurrent streams per connection).
func (e *env) h2cClients(b *testing.B, n int) []pubsubv1connect.PubSubServiceClient {
	cs := make([]pubsubv1connect.PubSubServiceClient, n)
	for i := range cs {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: p}
		b.Cleanup(tr.CloseIdleConnections)
		cs[i] = pubsubv1connect.NewPubSubServiceClient(&http.Client{Transport: tr}, e.srv.URL, connect.WithGRPC())
	}
	return cs
}

// BenchmarkPublish measures unary Publish calls over h2c (gRPC protocol,
// 256-byte payloads, 8 client connections, GOMAXPROCS×4 callers).
func BenchmarkPublish(b *testing.B) {
	e := newEnv(b, nil, pubsub.MemoryOptions{HistorySize: 1000})
	cs := e.h2cClients(b, 8)
	data := make([]byte, 256)
	ctx := context.Background()
	var mu sync.Mutex
	next := 0
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb_ *testing.PB) {
		mu.Lock()
		c := cs[next%len(cs)]
		next++
		mu.Unlock()
		for pb_.Next() {
			if _, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "bench", Data: data})); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkFanout measures delivery to 1,000 Subscribe streams over h2c
// (10 connections of 100 streams): each op publishes a burst of 1 or 10
// 256-byte messages and waits until every stream received them.
func BenchmarkFanout(b *testing.B) {
	for _, burst := range []int{1, 10} {
		n := 1000
		b.Run(fmt.Sprintf("streams=%d/burst=%d", n, burst), func(b *testing.B) {
			e := newEnv(b, nil, pubsub.MemoryOptions{HistorySize: 1000})
			cs := e.h2cClients(b, n/100)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan int, n*10)
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			for i := range n {
				st, err := cs[i%len(cs)].Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"fan"}}))
				if err != nil {
					b.Fatal(err)
				}
				if !st.Receive() { // Opened
					b.Fatal(st.Err())
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer st.Close()
					for st.Receive() {
						got <- 1
					}
				}()
			}
			data := make([]byte, 256)
			b.ResetTimer()
			for range b.N {
				for range burst {
					if _, err := e.b.Publish(ctx, pubsub.Message{Topic: "fan", Data: data}); err != nil {
						b.Fatal(err)
					}
				}
				for range n * burst {
					<-got
				}
			}
			b.ReportMetric(float64(b.N*n*burst)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
