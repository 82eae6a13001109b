package graphqlsub_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/graphqlsub"
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
