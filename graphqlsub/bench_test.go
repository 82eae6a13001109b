package graphqlsub_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/pubsub"
)

// BenchmarkTransportWSEvent measures one subscription event end to end over
// loopback: broker publish, graph-gophers resolution, encoding, WebSocket
// write, and the client's read.
func BenchmarkTransportWSEvent(b *testing.B) {
	e := newEnv(b, nil)
	start := e.publish(b, "bench", "x")
	c := dialB(b, e.url)
	ctx := context.Background()
	write := func(s string) {
		if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			b.Fatal(err)
		}
	}
	read := func() []byte {
		_, m, err := c.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	write(`{"type":"connection_init"}`)
	read()
	write(`{"type":"subscribe","id":"1","payload":{"query":"subscription { messages(filter: \"bench\", since: \"` + start.Cursor + `\") { data cursor } }"}}`)
	payload := []byte(`{"t":1,"i":2,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.broker.Publish(ctx, pubsub.Message{Topic: "bench", Data: payload}); err != nil {
			b.Fatal(err)
		}
		read()
	}
	b.StopTimer()
	_ = c.Close(websocket.StatusNormalClosure, strconv.Itoa(b.N))
}

func dialB(b *testing.B, url string) *websocket.Conn {
	c, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{Subprotocols: []string{graphqlsub.SubprotocolTransportWS}})
	if err != nil {
		b.Fatal(err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	b.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// BenchmarkTransportWSFanout measures one event delivered to 100
// graphql-transport-ws subscribers of the same live subscription (one
// connection each, gophers.BrokerSchema), each operation running alone or
// sharing one execution (Options.ShareSubscriptions). ns/delivery is the
// time per subscriber per event; client reads share the machine.
func BenchmarkTransportWSFanout(b *testing.B) {
	for _, mode := range []string{"alone", "shared"} {
		b.Run(mode, func(b *testing.B) {
			opts := &graphqlsub.Options{}
			if mode == "shared" {
				opts.ShareSubscriptions = gophers.ShareLive
			}
			benchFanout(b, newEnv(b, opts), 100)
		})
	}
}

func benchFanout(b *testing.B, e *env, n int) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var measured atomic.Int64
	want := atomic.Int64{}
	want.Store(-1)
	done := make(chan struct{}, 1)
	warm := make([]atomic.Bool, n)
	for i := range n {
		c := dialB(b, e.url)
		for _, m := range []string{`{"type":"connection_init"}`,
			`{"type":"subscribe","id":"1","payload":{"query":"subscription { messages(filter: \"bench\") { data } }"}}`} {
			if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
				b.Fatal(err)
			}
		}
		wg.Go(func() {
			for {
				_, m, err := c.Read(ctx)
				if err != nil {
					return
				}
				switch {
				case bytes.Contains(m, []byte(`"data":"m"`)):
					if measured.Add(1) == want.Load() {
						done <- struct{}{}
					}
				case bytes.Contains(m, []byte(`"data":"p"`)):
					warm[i].Store(true)
				}
			}
		})
	}
	for all := false; !all; {
		e.publish(b, "bench", "p")
		time.Sleep(5 * time.Millisecond)
		all = true
		for i := range warm {
			all = all && warm[i].Load()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want.Store(int64(i+1) * int64(n))
		if _, err := e.broker.Publish(ctx, pubsub.Message{Topic: "bench", Data: []byte("m")}); err != nil {
			b.Fatal(err)
		}
		<-done
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
}

// BenchmarkSSEFanout measures bursts of 10 events delivered to 100 GraphQL
// over SSE subscribers (distinct connections) of one shared live
// subscription; ns/delivery is the time per subscriber per event.
func BenchmarkSSEFanout(b *testing.B) {
	const n, burst = 100, 10
	e := newEnv(b, &graphqlsub.Options{ShareSubscriptions: gophers.ShareLive})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var measured atomic.Int64
	want := atomic.Int64{}
	want.Store(-1)
	done := make(chan struct{}, 1)
	warm := make([]atomic.Bool, n)
	q := url.QueryEscape(`subscription { messages(filter: "bench") { data } }`)
	for i := range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"?query="+q, nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Accept", "text/event-stream")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				switch l := sc.Bytes(); {
				case bytes.Contains(l, []byte(`"data":"m"`)):
					if measured.Add(1) == want.Load() {
						done <- struct{}{}
					}
				case bytes.Contains(l, []byte(`"data":"p"`)):
					warm[i].Store(true)
				}
			}
		})
	}
	for all := false; !all; {
		e.publish(b, "bench", "p")
		time.Sleep(5 * time.Millisecond)
		all = true
		for i := range warm {
			all = all && warm[i].Load()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		want.Store(int64(i+1) * n * burst)
		for range burst {
			if _, err := e.broker.Publish(ctx, pubsub.Message{Topic: "bench", Data: []byte("m")}); err != nil {
				b.Fatal(err)
			}
		}
		<-done
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*burst), "ns/delivery")
}
