package grpcx_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Serve PubSubService with reflection and health over HTTP/1.1 and h2c, then
// subscribe and publish with a gRPC client.
func Example() {
	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	_, h := grpcx.NewHandler(broker, nil)
	defer h.Close()
	mux := http.NewServeMux()
	h.Register(mux) // the service, reflection and health

	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true) // gRPC over clear-text HTTP/2
	srv.Start()
	defer srv.Close()

	// A Go client speaking gRPC over h2c.
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := pubsubv1connect.NewPubSubServiceClient(&http.Client{Transport: tr}, srv.URL, connect.WithGRPC())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"chat/+"}}))
	if err != nil {
		panic(err)
	}
	defer stream.Close()
	stream.Receive() // Opened: the subscription is active
	fmt.Println("opened:", stream.Msg().GetOpened() != nil)

	_, err = client.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "chat/lobby", Data: []byte("hello")}))
	if err != nil {
		panic(err)
	}
	stream.Receive()
	m := stream.Msg().GetMessage()
	fmt.Printf("%s: %s\n", m.GetTopic(), m.GetData())

	_, err = client.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "chat/#"}))
	fmt.Println(connect.CodeOf(err))
	// Output:
	// opened: true
	// chat/lobby: hello
	// invalid_argument
}

// Resume after the last cursor a client processed.
func ExampleNewHandler_resume() {
	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	path, h := grpcx.NewHandler(broker, nil)
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle(path, h)
	srv := httptest.NewServer(mux) // Connect and gRPC-Web also work over HTTP/1.1
	defer srv.Close()
	client := pubsubv1connect.NewPubSubServiceClient(srv.Client(), srv.URL)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cursors []string
	for _, s := range []string{"a", "b", "c"} {
		res, err := client.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "log", Data: []byte(s)}))
		if err != nil {
			panic(err)
		}
		cursors = append(cursors, res.Msg.GetCursor())
	}
	stream, err := client.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"log"}, Since: cursors[0]}))
	if err != nil {
		panic(err)
	}
	defer stream.Close()
	stream.Receive()
	fmt.Println("gap:", stream.Msg().GetOpened().GetGap() != nil)
	for range 2 {
		stream.Receive()
		fmt.Println(string(stream.Msg().GetMessage().GetData()))
	}
	// Output:
	// gap: false
	// b
	// c
}
