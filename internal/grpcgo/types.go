// Package grpcgo holds grpc-go stubs for switchboard.pubsub.v1.PubSubService,
// generated with protoc-gen-go-grpc by grpcx/proto/generate.sh, for tests
// that drive the grpcx handler with a real grpc-go client. The stubs live
// here, not in grpcx/pubsubv1, so the library never imports grpc-go; the
// message types are aliases of grpcx/pubsubv1's.
package grpcgo

import pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"

// Aliases of the messages the generated stubs use.
type (
	PublishRequest        = pb.PublishRequest
	PublishResponse       = pb.PublishResponse
	SubscribeRequest      = pb.SubscribeRequest
	SubscribeResponse     = pb.SubscribeResponse
	PublishStreamRequest  = pb.PublishStreamRequest
	PublishStreamResponse = pb.PublishStreamResponse
	SessionRequest        = pb.SessionRequest
	SessionResponse       = pb.SessionResponse
	RequestRequest        = pb.RequestRequest
	RequestResponse       = pb.RequestResponse
)
