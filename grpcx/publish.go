package grpcx

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// service implements the generated handler interface on a Handler.
type service struct {
	pubsubv1connect.UnimplementedPubSubServiceHandler
	h *Handler
}

// maxFailures caps the failures listed in a PublishStream summary; the
// counts stay exact.
const maxFailures = 100

// Publish publishes one message.
func (s *service) Publish(ctx context.Context, req *connect.Request[pb.PublishRequest]) (*connect.Response[pb.PublishResponse], error) {
	h := s.h
	ctx, id, err := h.unary(ctx, req.Header(), req.Peer())
	if err != nil {
		return nil, err
	}
	r, err := h.publish(ctx, id, req.Msg)
	if err != nil {
		return nil, h.toError(err)
	}
	return connect.NewResponse(receipt(r)), nil
}

// publish checks, authorizes and publishes one message.
func (h *Handler) publish(ctx context.Context, id *transport.Identity, r *pb.PublishRequest) (pubsub.Receipt, error) {
	m, err := h.fromPublish(r)
	if err != nil {
		return pubsub.Receipt{}, err
	}
	if err := h.authorize(ctx, id, transport.ActionPublish, m.Topic); err != nil {
		return pubsub.Receipt{}, err
	}
	return h.b.Publish(ctx, m)
}

// PublishStream publishes every message the client streams and answers
// with a summary. A refused message is counted and listed; the others are
// still published. Authentication failures, MaxBatch and a closing broker
// end the call with an error instead.
func (s *service) PublishStream(ctx context.Context, st *connect.ClientStream[pb.PublishStreamRequest]) (*connect.Response[pb.PublishStreamResponse], error) {
	h := s.h
	ctx, id, err := h.stream(ctx, st.RequestHeader(), st.Peer())
	if err != nil {
		return nil, err
	}
	sum := &pb.PublishStreamResponse{}
	for i := 0; st.Receive(); i++ {
		if h.o.MaxBatch > 0 && i >= h.o.MaxBatch {
			return nil, h.toError(fmt.Errorf("%w: more than %d messages in one PublishStream call", transport.ErrLimit, h.o.MaxBatch))
		}
		r, err := h.publish(ctx, id, st.Msg().GetMessage())
		switch {
		case err == nil:
			sum.Ids = append(sum.Ids, r.ID)
			sum.SuccessCount++
			if r.Cursor != "" {
				sum.LastCursor = r.Cursor
			}
		case errors.Is(err, pubsub.ErrClosed), ctx.Err() != nil:
			return nil, h.toError(err)
		default:
			sum.FailureCount++
			if len(sum.Failures) < maxFailures {
				ce := h.toError(err)
				sum.Failures = append(sum.Failures, &pb.PublishFailure{Index: int32(i), Code: codeName(ce.Code()), Message: ce.Message()})
			}
		}
	}
	if err := st.Err(); err != nil {
		if ctx.Err() != nil { // cut by Close
			err = errShuttingDown
		}
		return nil, h.toError(err)
	}
	return connect.NewResponse(sum), nil
}

// Request publishes a request with a reply topic and waits for the first
// reply, at most Options.RequestTimeout. No reply in time is
// DeadlineExceeded.
func (s *service) Request(ctx context.Context, req *connect.Request[pb.RequestRequest]) (*connect.Response[pb.RequestResponse], error) {
	h := s.h
	ctx, id, err := h.unary(ctx, req.Header(), req.Peer())
	if err != nil {
		return nil, err
	}
	r := req.Msg
	if err := pubsub.ValidateTopic(r.GetTopic()); err != nil {
		return nil, h.toError(err)
	}
	if err := h.checkSize(r.GetData(), r.GetHeader()); err != nil {
		return nil, h.toError(err)
	}
	key, err := messageKey("", r.GetKey())
	if err != nil {
		return nil, h.toError(err)
	}
	if err := h.authorize(ctx, id, transport.ActionRequest, r.GetTopic()); err != nil {
		return nil, h.toError(err)
	}
	if d := h.o.RequestTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	// End the wait when the handler shuts down.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(h.ctx, func() { cancel(errShuttingDown) })
	defer stop()
	reply, err := pubsub.Request(ctx, h.b, pubsub.Message{Topic: r.GetTopic(), Data: r.GetData(), Header: r.GetHeader(), ID: key})
	if err != nil {
		if c := context.Cause(ctx); c != nil && errors.Is(c, transport.ErrUnavailable) {
			err = c
		}
		return nil, h.toError(err)
	}
	return connect.NewResponse(&pb.RequestResponse{Reply: toProto(reply)}), nil
}
