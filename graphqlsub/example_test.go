package graphqlsub_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/pubsub"
)

// A GraphQL API over a broker: a mutation over plain HTTP.
func ExampleNewHandler() {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	schema, _ := gophers.NewBrokerSchema(b, nil)
	h := graphqlsub.NewHandler(gophers.New(schema, nil), nil)
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	body := `{"query":"mutation { publish(topic: \"chat/room1\", data: \"hello\") { topic data } }"}`
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(out))
	// Output: 200 {"data":{"publish":{"topic":"chat/room1","data":"hello"}}}
}

// A subscription over graphql-transport-ws, resumed after a cursor so that
// it sees messages published before it started.
func ExampleNewHandler_subscription() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b := pubsub.NewMemory(nil)
	defer b.Close()
	schema, _ := gophers.NewBrokerSchema(b, nil)
	h := graphqlsub.NewHandler(gophers.New(schema, nil), nil)
	defer h.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	start, _ := b.Publish(ctx, pubsub.Message{Topic: "chat/room1", Data: []byte("before")})
	_, _ = b.Publish(ctx, pubsub.Message{Topic: "chat/room1", Data: []byte("hello")})

	c, _, err := websocket.Dial(ctx, srv.URL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	send := func(s string) { _ = c.Write(ctx, websocket.MessageText, []byte(s)) }
	read := func() string { _, m, _ := c.Read(ctx); return string(m) }

	send(`{"type":"connection_init"}`)
	fmt.Println(read())
	send(`{"type":"subscribe","id":"1","payload":{"query":"subscription { messages(filter: \"chat/+\", since: \"` + start.Cursor + `\") { topic data } }"}}`)
	fmt.Println(read())
	send(`{"type":"complete","id":"1"}`)
	_ = c.Close(websocket.StatusNormalClosure, "")
	// Output:
	// {"type":"connection_ack"}
	// {"type":"next","id":"1","payload":{"data":{"messages":{"topic":"chat/room1","data":"hello"}}}}
}

// Stream in a subscription resolver: only the messages of the requested
// room reach the client, and nothing at all is sent for other rooms.
func ExampleStream() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := pubsub.NewMemory(nil)
	defer b.Close()
	start, _ := b.Publish(ctx, pubsub.Message{Topic: "rooms", Data: []byte("start")})
	for _, room := range []string{"a", "b", "a"} {
		_, _ = b.Publish(ctx, pubsub.Message{Topic: "rooms", Data: []byte(room)})
	}

	room := "a" // a resolver argument
	ch, _ := graphqlsub.Stream(ctx, b, "rooms", &graphqlsub.StreamOptions{
		Since: start.Cursor,
		Match: func(m *pubsub.Message) bool { return string(m.Data) == room },
	}, func(ev graphqlsub.Event) string {
		if ev.Err != nil {
			return "error: " + ev.Err.Code
		}
		return string(ev.Message.Data)
	})
	fmt.Println(<-ch, <-ch)
	// Output: a a
}
