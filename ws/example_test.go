package ws_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/ws"
)

// Serve WebSockets on a mux, connect with the Go client, subscribe and
// publish.
func Example() {
	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	h := ws.NewHandler(broker, nil)
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer h.Close()

	ctx := context.Background()
	c, err := ws.Dial(ctx, srv.URL+"/ws", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, "chat/#", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Anything published on the broker (by any transport) arrives.
	_, _ = broker.Publish(ctx, pubsub.Message{Topic: "chat/room1", Data: []byte(`{"text":"hi"}`)})
	_, _ = c.Publish(ctx, pubsub.Message{Topic: "chat/room2", Data: []byte("raw bytes")})
	for range 2 {
		ev := <-sub.C()
		fmt.Printf("%s: %s\n", ev.Message.Topic, ev.Message.Data)
	}
	// Output:
	// chat/room1: {"text":"hi"}
	// chat/room2: raw bytes
}

// The wire protocol by hand, as a browser or any WebSocket library speaks
// it.
func Example_protocol() {
	broker := pubsub.NewMemory(&pubsub.MemoryOptions{Epoch: "doc"})
	defer broker.Close()
	h := ws.NewHandler(broker, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"),
		&websocket.DialOptions{Subprotocols: []string{ws.Subprotocol}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	send := func(s string) { _ = c.Write(ctx, websocket.MessageText, []byte(s)) }
	recv := func() {
		_, b, _ := c.Read(ctx)
		// Hide the time, which changes from run to run.
		s := string(b)
		if i := strings.Index(s, `,"time":"`); i >= 0 {
			j := strings.Index(s[i+9:], `"`)
			s = s[:i] + s[i+9+j+1:]
		}
		fmt.Println(s)
	}
	send(`{"type":"subscribe","id":"s1","filter":"chat/#"}`)
	recv()
	send(`{"type":"publish","id":"p1","topic":"news/today","data_b64":"AAE="}`)
	recv()
	_, _ = broker.Publish(ctx, pubsub.Message{Topic: "chat/room1", Data: []byte(`{"text":"hi"}`)})
	recv()
	send(`{"type":"publish","id":"p2","topic":"chat/+","data":1}`)
	recv()
	// Output:
	// {"type":"subscribed","id":"s1","cursor":"doc-0"}
	// {"type":"ack","id":"p1","message_id":"doc-1","cursor":"doc-1"}
	// {"type":"message","sub":"s1","topic":"chat/room1","id":"doc-2","cursor":"doc-2","data":{"text":"hi"}}
	// {"type":"error","id":"p2","code":"bad_request","message":"pubsub: invalid topic \"chat/+\": wildcard '+' at byte 5 is not allowed in a topic name"}
}

// The guide form, as a hand-written browser pub/sub client speaks it: no
// subprotocol, no ids, topics in subscribe, the payload in data (text as
// a string).
func Example_guideForm() {
	broker := pubsub.NewMemory(&pubsub.MemoryOptions{Epoch: "doc"})
	defer broker.Close()
	h := ws.NewHandler(broker, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Close()

	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.CloseNow()
	send := func(s string) { _ = c.Write(ctx, websocket.MessageText, []byte(s)) }
	recv := func() {
		_, b, _ := c.Read(ctx)
		s := string(b)
		if i := strings.Index(s, `,"time":"`); i >= 0 { // changes from run to run
			j := strings.Index(s[i+9:], `"`)
			s = s[:i] + s[i+9+j+1:]
		}
		fmt.Println(s)
	}
	send(`{"type":"subscribe","topics":["user-events","system-notifications"]}`)
	recv()
	send(`{"type":"publish","topic":"user-events","data":{"userId":42,"action":"login"}}`)
	recv()
	// A text/plain publish from elsewhere (REST, MQTT…) arrives as a string.
	_, _ = broker.Publish(ctx, pubsub.Message{Topic: "system-notifications", Data: []byte("hello world")})
	recv()
	send(`{"type":"unsubscribe","topics":["user-events"]}`)
	recv()
	// Output:
	// {"type":"subscribed","topics":["user-events","system-notifications"],"cursor":"doc-0"}
	// {"type":"message","topic":"user-events","data":{"userId":42,"action":"login"},"id":"doc-1","cursor":"doc-1"}
	// {"type":"message","topic":"system-notifications","data":"hello world","id":"doc-2","cursor":"doc-2"}
	// {"type":"unsubscribed","topics":["user-events"]}
}

// Serve the JavaScript client beside the WebSocket handler, so a page of
// the same server can import it.
func ExampleClientScript() {
	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	h := ws.NewHandler(broker, nil)
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	mux.Handle("GET /switchboard.mjs", ws.ClientScript())
	mux.Handle("GET /switchboard.d.mts", ws.ClientTypes())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// A page then loads it with
	//	<script type="module">
	//	import { connect } from "/switchboard.mjs";
	//	const sb = connect("/ws");
	//	for await (const ev of sb.subscribe("chat/#")) console.log(ev);
	//	</script>
	resp, err := http.Get(srv.URL + "/switchboard.mjs")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Header.Get("Content-Type"))
	// Output: text/javascript; charset=utf-8
}
