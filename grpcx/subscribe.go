package grpcx

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Subscribe streams the messages matching req.filters: first Opened, then
// messages in cursor order, each once even when it matches several filters.
// It ends with the client (Canceled), with ResourceExhausted when the
// client falls Options.Buffer messages behind, and with Unavailable when
// the handler shuts down or the broker closes; the last two carry the
// cursor to resume from (ResumeCursorKey).
func (s *service) Subscribe(ctx context.Context, req *connect.Request[pb.SubscribeRequest], st *connect.ServerStream[pb.SubscribeResponse]) error {
	h := s.h
	ctx, id, err := h.stream(ctx, req.Header(), req.Peer())
	if err != nil {
		return err
	}
	r := req.Msg
	filters := r.GetFilters()
	switch {
	case len(filters) == 0:
		return h.toError(fmt.Errorf("%w: at least one filter is required", transport.ErrBadRequest))
	case h.lim.MaxSubscriptions > 0 && len(filters) > h.lim.MaxSubscriptions:
		err := fmt.Errorf("%w: %d filters exceed the limit of %d per call", transport.ErrLimit, len(filters), h.lim.MaxSubscriptions)
		h.o.Observer.OnSubRefused(transportName, err, filters...)
		return h.toError(err)
	}
	for _, f := range filters {
		if _, err := pubsub.ParseFilter(f); err != nil {
			return h.toError(err)
		}
		if err := h.authorize(ctx, id, transport.ActionSubscribe, f); err != nil {
			h.o.Observer.OnSubRefused(transportName, err, filters...)
			return h.toError(err)
		}
	}
	if err := h.authorizeJoin(ctx, id, r.GetGroup()); err != nil {
		h.o.Observer.OnSubRefused(transportName, err, filters...)
		return h.toError(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := pubsub.SubscribeOptions{Group: r.GetGroup(), NoRetained: r.GetNoRetained(), Buffer: h.o.Buffer}
	sub, opened, err := h.open(ctx, filters, r.GetSince(), opts)
	if err != nil {
		return h.toError(err)
	}
	defer func() { _ = sub.Close() }()
	obs := h.o.Observer
	if obs != nil {
		obs.OnSubStarted(transportName, filters...)
		defer func() { obs.OnSubEnded(transportName, h.endReason(ctx, sub), sub.Err(), filters...) }()
	}
	if err := st.Send(&pb.SubscribeResponse{Event: &pb.SubscribeResponse_Opened{Opened: opened}}); err != nil {
		return err
	}
	last := r.GetSince()
	if opened.GetGap() != nil || last == "" {
		last = opened.GetHead()
	}
	c := sub.C()
	held := 0                   // messages sent since the last flush
	call := callOf(ctx)         // looked up once, not per message
	defer call.holdFlush(false) // connect flushes the end of the stream
	for {
		select {
		case m, ok := <-c:
			if !ok {
				// Ended by the broker after everything it delivered was
				// sent: a slow consumer, or the broker closed.
				err := sub.Err()
				if err == nil || ctx.Err() != nil {
					return ctx.Err()
				}
				return h.endError(err, last)
			}
			// One flush per burst: hold it back while more messages wait,
			// for at most maxHeld messages.
			held++
			hold := held < maxHeld && len(c) > 0
			if !hold {
				held = 0
			}
			call.holdFlush(hold)
			resp := &pb.SubscribeResponse{Event: &pb.SubscribeResponse_Message{Message: toProto(m)}}
			if err := st.Send(resp); err != nil {
				return err
			}
			if obs.Observes() {
				obs.OnDelivered(transportName, m, proto.Size(resp))
			}
			if m.Cursor != "" {
				last = m.Cursor
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-h.streams.Closing():
			return h.endError(errShuttingDown, last)
		}
	}
}

// transportName names gRPC, Connect and gRPC-Web calls to the Observer.
const transportName = "grpc"

// endReason says why a subscription of a call ended, for the Observer.
func (h *Handler) endReason(ctx context.Context, sub pubsub.Subscription) transport.EndReason {
	select {
	case <-h.streams.Closing():
		return transport.EndShutdown
	default:
	}
	if err := sub.Err(); err != nil && ctx.Err() == nil {
		return transport.ReasonOf(err)
	}
	return transport.EndClient
}

// endError is the error ending a stream the server ends, with the cursor
// to resume from in the message and the metadata.
func (h *Handler) endError(err error, last string) error {
	code := errorCode(err)
	switch code {
	case connect.CodeResourceExhausted, connect.CodeUnavailable:
	default:
		return h.toError(err)
	}
	msg := oneLine(err.Error())
	if errors.Is(err, pubsub.ErrSlowConsumer) {
		msg = "pubsub: slow consumer: the subscription fell too far behind"
	}
	if last != "" {
		msg += "; resume after cursor " + last
	}
	ce := connect.NewError(code, errors.New(msg))
	if last != "" {
		ce.Meta().Set(ResumeCursorKey, last)
	}
	return ce
}

// open subscribes to the filters on one subscription (pubsub.SubscribeAll:
// on a pubsub.MultiSubscriber broker each message once, in cursor order
// across the filters, and a resume replays their union in order), resuming
// after since when it can. A since that cannot be used (malformed, from
// another broker, or a broker without history) becomes a Gap, never an
// error: the client learns it must reload, and delivery starts live.
func (h *Handler) open(ctx context.Context, filters []string, since string, opts pubsub.SubscribeOptions) (pubsub.Subscription, *pb.Opened, error) {
	opened := &pb.Opened{}
	if since != "" {
		reason := pb.GapReason_GAP_REASON_UNSPECIFIED
		if h.hr == nil {
			reason = pb.GapReason_GAP_REASON_NO_HISTORY
		} else if _, err := pubsub.ParseCursor(since); err != nil {
			reason = pb.GapReason_GAP_REASON_INVALID_CURSOR
		}
		if reason != pb.GapReason_GAP_REASON_UNSPECIFIED {
			opened.Gap = &pb.Gap{Reason: reason, Since: since}
			since = ""
		}
	}
	// The head is read before subscribing: a client that resumes from it
	// before its first message gets everything delivered live meanwhile.
	head := h.head(ctx)
	opts.Since = since
	sub, err := h.subscribeAll(ctx, filters, &opts)
	if err != nil && opts.Since != "" && errors.Is(err, pubsub.ErrInvalidCursor) {
		opened.Gap = &pb.Gap{Reason: pb.GapReason_GAP_REASON_INVALID_CURSOR, Since: opts.Since}
		opts.Since = ""
		sub, err = h.subscribeAll(ctx, filters, &opts)
	}
	if err != nil {
		return nil, nil, err
	}
	if sub.Gap() && opened.Gap == nil {
		opened.Gap = &pb.Gap{Reason: pb.GapReason_GAP_REASON_HISTORY, Since: opts.Since}
	}
	if opts.Since == "" || opened.Gap != nil {
		opened.Head = head
	}
	return sub, opened, nil
}

// subscribeAll subscribes to the filters on one subscription. Group
// members of several filters join one group per filter, as they did before
// brokers learned several filters (pubsub.Memory takes one filter per
// group); a group has no order to keep.
func (h *Handler) subscribeAll(ctx context.Context, filters []string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	b := h.b
	if opts.Group != "" && len(filters) > 1 {
		b = perFilter{b}
	}
	return pubsub.SubscribeAll(ctx, b, filters, opts)
}

// perFilter hides a broker's pubsub.MultiSubscriber, so that SubscribeAll
// subscribes to each filter on its own.
type perFilter struct{ pubsub.Broker }

// head returns the cursor of the newest message in the broker, "" without
// history.
func (h *Handler) head(ctx context.Context) string {
	head, err := pubsub.Head(ctx, h.b)
	if err != nil {
		h.log.Debug("grpcx: cannot read the history head", "err", err)
	}
	return head
}
