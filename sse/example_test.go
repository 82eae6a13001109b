package sse_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
)

// Serve a stream, publish, and read it with the Go client.
func Example() {
	broker := pubsub.NewMemory(&pubsub.MemoryOptions{Epoch: "demo"})
	defer broker.Close()
	h := sse.NewHandler(broker, nil)
	srv := httptest.NewServer(h) // in an application: mux.Handle("/events", h)
	defer srv.Close()
	defer h.Shutdown(context.Background())

	ctx := context.Background()
	stop := errors.New("stop")
	c := &sse.Client{URL: srv.URL + "?topic=chat/%2B"}
	err := c.Run(ctx, func(ev sse.Event) error {
		switch ev.Type {
		case "sb-open": // the stream is live: publish
			broker.Publish(ctx, pubsub.Message{Topic: "chat/room1", Data: []byte("hello")})
			broker.Publish(ctx, pubsub.Message{Topic: "chat/room1", Data: []byte("bye"),
				Header: map[string]string{"event": "leave"}})
			return nil
		case "leave":
			fmt.Printf("%s %q (id %s)\n", ev.Type, ev.Data, ev.ID)
			return stop
		}
		fmt.Printf("message %q (id %s)\n", ev.Data, ev.ID)
		return nil
	})
	fmt.Println(errors.Is(err, stop))
	// Output:
	// message "hello" (id demo-1)
	// leave "bye" (id demo-2)
	// true
}

// Resume after a cursor: the stream replays what followed it.
func ExampleClient_resume() {
	broker := pubsub.NewMemory(&pubsub.MemoryOptions{Epoch: "demo"})
	defer broker.Close()
	ctx := context.Background()
	for _, s := range []string{"a", "b", "c"} {
		broker.Publish(ctx, pubsub.Message{Topic: "t", Data: []byte(s)})
	}
	h := sse.NewHandler(broker, &sse.Options{Format: sse.FormatEnvelope})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Shutdown(context.Background())

	c := &sse.Client{URL: srv.URL + "?topic=t", LastEventID: "demo-1"}
	n := 0
	_ = c.Run(ctx, func(ev sse.Event) error {
		m, _ := transport.DecodeEnvelope([]byte(ev.Data))
		fmt.Println(ev.ID, m.Topic, string(m.Data), m.Cursor)
		if n++; n == 2 {
			return errors.New("done")
		}
		return nil
	})
	// Output:
	// demo-2 t b demo-2
	// demo-3 t c demo-3
}
