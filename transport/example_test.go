package transport_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func ExampleNewRESTHandler() {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{Epoch: "example"})
	defer b.Close()
	mux := http.NewServeMux()
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, _ := http.Post(srv.URL+"/topics/greetings", "application/json", strings.NewReader(`{"text":"hi"}`))
	resp.Body.Close()

	resp, _ = http.Get(srv.URL + "/topics/greetings?since=example-0")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(strings.Contains(string(body), `"data":{"text":"hi"}`), " ", strings.Contains(string(body), `"cursor":"example-1"`))
	// Output: true true
}

func ExampleDecodeEnvelope() {
	m, err := transport.DecodeEnvelope([]byte(`{"topic":"sensors/t1","cursor":"ep-7","data_b64":"3q0="}`))
	fmt.Printf("%s %s %x %v\n", m.Topic, m.Cursor, m.Data, err)
	m, err = transport.DecodeEnvelope([]byte(`{"topic":"sensors/t1","data":{"c":21.5}}`))
	fmt.Printf("%s %s %v\n", m.Topic, m.Data, err)
	// Output:
	// sensors/t1 ep-7 dead <nil>
	// sensors/t1 {"c":21.5} <nil>
}

// An Auth whose rules keep tenants apart: everyone reads public/…, and a
// client joins only consumer groups named after itself, so bob cannot take
// a share of the jobs of alice's group. Every transport that lets a client
// name a group (ws, grpcx, mqttx's $share/<group>/<filter>) asks
// ActionJoin with the group name after ActionSubscribe with the filter.
func ExampleAuth() {
	auth := &transport.Auth{
		Authorize: func(_ context.Context, id *transport.Identity, a transport.Action, topic string) error {
			switch a {
			case transport.ActionSubscribe:
				if strings.HasPrefix(topic, "public/") {
					return nil
				}
			case transport.ActionJoin: // topic is the group name
				if strings.HasPrefix(topic, id.Subject+"-") {
					return nil
				}
			}
			return fmt.Errorf("%s may not %s %q", id.Subject, a, topic)
		},
	}
	ctx := context.Background()
	alice, bob := &transport.Identity{Subject: "alice"}, &transport.Identity{Subject: "bob"}
	fmt.Println(auth.Check(ctx, bob, transport.ActionSubscribe, "public/jobs"))
	fmt.Println(auth.Check(ctx, alice, transport.ActionJoin, "alice-workers"))
	fmt.Println(auth.Check(ctx, bob, transport.ActionJoin, "alice-workers"))
	// Output:
	// <nil>
	// <nil>
	// transport: forbidden
	// bob may not join "alice-workers"
}

// An Observer counts what a handler does; set the same one on every
// handler's Options to see a whole server.
func ExampleObserver() {
	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	var published atomic.Int64
	obs := &transport.Observer{
		Published: func(ev transport.PublishEvent) {
			if ev.Err == nil {
				published.Add(1)
			}
		},
		SubEnded: func(ev transport.SubEvent) {
			fmt.Println(ev.Transport, "subscription ended:", ev.Reason)
		},
	}
	srv := httptest.NewServer(transport.NewRESTHandler(broker, &transport.RESTOptions{Observer: obs}))
	defer srv.Close()
	for range 3 {
		resp, err := http.Post(srv.URL+"/topics/news", "text/plain", strings.NewReader("hi"))
		if err == nil {
			resp.Body.Close()
		}
	}
	fmt.Println(published.Load(), "publishes")
	obs.OnSubEnded("custom", transport.ReasonOf(pubsub.ErrSlowConsumer), pubsub.ErrSlowConsumer)
	// Output:
	// 3 publishes
	// custom subscription ended: slow_consumer
}
