package longpoll_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/switchboard-go/switchboard/longpoll"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// A client polls in a loop with the cursor of each answer.
func Example() {
	broker := pubsub.NewMemory(&pubsub.MemoryOptions{Epoch: "demo"})
	defer broker.Close()
	h := longpoll.NewHandler(broker, nil)
	srv := httptest.NewServer(h) // in an application: mux.Handle("/poll", h)
	defer srv.Close()
	defer h.Shutdown(context.Background())

	type answer struct {
		Messages []transport.Envelope `json:"messages"`
		Cursor   string               `json:"cursor"`
		Gap      bool                 `json:"gap"`
	}
	poll := func(query string) answer {
		resp, err := http.Get(srv.URL + "?" + query)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		var a answer
		_ = json.NewDecoder(resp.Body).Decode(&a)
		return a
	}

	// No cursor and no wait: where "now" is.
	a := poll("topic=orders/%23&timeout=0")
	fmt.Println("start at", a.Cursor)

	ctx := context.Background()
	broker.Publish(ctx, pubsub.Message{Topic: "orders/1", Data: []byte(`{"qty":2}`)})
	broker.Publish(ctx, pubsub.Message{Topic: "orders/2", Data: []byte(`{"qty":5}`)})

	a = poll("topic=orders/%23&cursor=" + a.Cursor)
	for _, m := range a.Messages {
		fmt.Println(m.Topic, string(m.Data), m.Cursor)
	}
	a = poll("topic=orders/%23&timeout=10ms&cursor=" + a.Cursor)
	fmt.Println(len(a.Messages), "new, still at", a.Cursor, "gap:", a.Gap)
	// Output:
	// start at demo-0
	// orders/1 {"qty":2} demo-1
	// orders/2 {"qty":5} demo-2
	// 0 new, still at demo-2 gap: false
}
