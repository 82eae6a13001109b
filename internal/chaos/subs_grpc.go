package main

import (
	"context"
	"net/http"

	"connectrpc.com/connect"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
)

// h2c returns an HTTP client speaking HTTP/2 without TLS (prior
// knowledge), as gRPC clients do, with its own connections.
func h2c() (*http.Client, *http.Transport) {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}, tr
}

// runGRPC subscribes with the generated Connect client speaking the gRPC
// protocol, resuming with since.
func runGRPC(ctx context.Context, s *subscriber, h *hub) error {
	hc, tr := h2c()
	defer tr.CloseIdleConnections()
	c := pubsubv1connect.NewPubSubServiceClient(hc, h.url(""), connect.WithGRPC())
	stream, err := c.Subscribe(ctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{s.world.filter}, Since: s.getCursor()}))
	if err != nil {
		return err
	}
	defer func() { _ = stream.Close() }()
	for stream.Receive() {
		r := stream.Msg()
		if o := r.GetOpened(); o != nil {
			if g := o.GetGap(); g != nil {
				s.t.gap("grpc gap " + g.GetReason().String())
				s.setCursor(o.GetHead())
			} else if s.getCursor() == "" {
				s.setCursor(o.GetHead())
			}
			continue
		}
		if m := r.GetMessage(); m != nil {
			s.t.deliver(m.GetData())
			s.setCursor(m.GetCursor())
		}
	}
	if err := stream.Err(); err != nil {
		return err
	}
	return errEnded
}
