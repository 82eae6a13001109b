package grpcx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// session is one Session call. Only the handler goroutine uses it; a
// second goroutine only receives commands.
type session struct {
	h     *Handler
	st    *connect.BidiStream[pb.SessionRequest, pb.SessionResponse]
	id    *transport.Identity
	subs  []*sessionSub // in subscription order
	dirty bool          // subs changed since cases were built
	cases []reflect.SelectCase
}

// sessionSub is one subscription of a session.
type sessionSub struct {
	id       string
	sub      pubsub.Subscription
	manual   bool
	inflight map[string]*pubsub.Message // unacknowledged deliveries by message id
	last     string                     // cursor of the last delivery
	filter   string
}

// Session runs a bidirectional stream of commands and events; see the
// package doc for its protocol. It ends when the client closes its side
// (after the results of every command it sent), when the client cancels,
// or with Unavailable when the handler shuts down.
func (s *service) Session(ctx context.Context, st *connect.BidiStream[pb.SessionRequest, pb.SessionResponse]) error {
	h := s.h
	ctx, id, err := h.stream(ctx, st.RequestHeader(), st.Peer())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ss := &session{h: h, st: st, id: id}
	defer ss.closeAll(ctx)

	// The reader hands commands over one at a time. It ends when the
	// request body does: the client closed its side, or ServeHTTP ended
	// the read once this call returned (see call.finish).
	cmds := make(chan *pb.SessionRequest)
	rerr := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	callOf(ctx).goRead(func() {
		for {
			req, err := st.Receive()
			if err != nil {
				rerr <- err
				return
			}
			select {
			case cmds <- req:
			case <-done:
				return
			}
		}
	})

	const fixed = 4 // cmds, rerr, ctx.Done, closing
	ss.cases = []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(cmds)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(rerr)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(h.streams.Closing())},
	}
	for {
		if ss.dirty {
			ss.cases = ss.cases[:fixed]
			for _, sub := range ss.subs {
				ss.cases = append(ss.cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(sub.sub.C())})
			}
			ss.dirty = false
		}
		i, v, ok := reflect.Select(ss.cases)
		var err error
		switch i {
		case 0:
			err = ss.handle(ctx, v.Interface().(*pb.SessionRequest))
		case 1:
			err = v.Interface().(error)
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case 2:
			return ctx.Err()
		case 3:
			return h.toError(errShuttingDown)
		default:
			sub := ss.subs[i-fixed]
			if !ok && ctx.Err() != nil {
				return ctx.Err()
			}
			if ok {
				err = ss.deliver(sub, v.Interface().(*pubsub.Message))
			} else {
				err = ss.ended(sub)
			}
		}
		if err != nil {
			return err
		}
	}
}

func (ss *session) send(r *pb.SessionResponse) error { return ss.st.Send(r) }

// result answers command id; err nil means success.
func (ss *session) result(id string, err error, fill func(*pb.SessionResult)) error {
	r := &pb.SessionResult{Id: id, Ok: err == nil}
	if err != nil {
		ce := ss.h.toError(err)
		r.Code, r.Error = codeName(ce.Code()), ce.Message()
	} else if fill != nil {
		fill(r)
	}
	return ss.send(&pb.SessionResponse{Event: &pb.SessionResponse_Result{Result: r}})
}

// handle runs one command and sends its result. The error is for the
// stream itself (a failed send); a failed command is a result.
func (ss *session) handle(ctx context.Context, req *pb.SessionRequest) error {
	h := ss.h
	switch c := req.GetCommand().(type) {
	case *pb.SessionRequest_Publish:
		r, err := h.publish(ctx, ss.id, c.Publish)
		return ss.result(req.GetId(), err, func(res *pb.SessionResult) { res.Publish = receipt(r) })
	case *pb.SessionRequest_Subscribe:
		opened, err := ss.subscribe(ctx, req.GetId(), c.Subscribe)
		return ss.result(req.GetId(), err, func(res *pb.SessionResult) { res.Opened = opened })
	case *pb.SessionRequest_Unsubscribe:
		return ss.result(req.GetId(), ss.unsubscribe(c.Unsubscribe.GetSubscriptionId()), nil)
	case *pb.SessionRequest_Ack:
		return ss.result(req.GetId(), ss.ack(c.Ack), nil)
	}
	return ss.result(req.GetId(), fmt.Errorf("%w: the command is empty or unknown", transport.ErrBadRequest), nil)
}

func (ss *session) find(id string) (int, *sessionSub) {
	for i, s := range ss.subs {
		if s.id == id {
			return i, s
		}
	}
	return -1, nil
}

func (ss *session) subscribe(ctx context.Context, id string, c *pb.SessionSubscribe) (*pb.Opened, error) {
	h := ss.h
	switch {
	case id == "":
		return nil, fmt.Errorf("%w: a subscribe command needs an id", transport.ErrBadRequest)
	case h.lim.MaxSubscriptions > 0 && len(ss.subs) >= h.lim.MaxSubscriptions:
		err := fmt.Errorf("%w: %d subscriptions per session", transport.ErrLimit, h.lim.MaxSubscriptions)
		h.o.Observer.OnSubRefused(transportName, err, c.GetFilter())
		return nil, err
	}
	if _, s := ss.find(id); s != nil {
		return nil, fmt.Errorf("%w: subscription id %q is in use", transport.ErrBadRequest, id)
	}
	if _, err := pubsub.ParseFilter(c.GetFilter()); err != nil {
		return nil, err
	}
	if err := h.authorize(ctx, ss.id, transport.ActionSubscribe, c.GetFilter()); err != nil {
		h.o.Observer.OnSubRefused(transportName, err, c.GetFilter())
		return nil, err
	}
	if err := h.authorizeJoin(ctx, ss.id, c.GetGroup()); err != nil {
		h.o.Observer.OnSubRefused(transportName, err, c.GetFilter())
		return nil, err
	}
	opts := pubsub.SubscribeOptions{Group: c.GetGroup(), ManualAck: c.GetManualAck(),
		Prefetch: int(c.GetPrefetch()), NoRetained: c.GetNoRetained(), Buffer: h.o.Buffer}
	sub, opened, err := h.open(ctx, []string{c.GetFilter()}, c.GetSince(), opts)
	if err != nil {
		return nil, err
	}
	s := &sessionSub{id: id, sub: sub, manual: opts.ManualAck, last: c.GetSince(), filter: c.GetFilter()}
	h.o.Observer.OnSubStarted(transportName, s.filter)
	if opened.GetGap() != nil || s.last == "" {
		s.last = opened.GetHead()
	}
	if s.manual {
		s.inflight = make(map[string]*pubsub.Message)
	}
	ss.subs = append(ss.subs, s)
	ss.dirty = true
	return opened, nil
}

func (ss *session) unsubscribe(id string) error {
	i, s := ss.find(id)
	if s == nil {
		return fmt.Errorf("%w: no subscription %q", transport.ErrNotFound, id)
	}
	_ = s.sub.Close()
	ss.h.o.Observer.OnSubEnded(transportName, transport.EndClient, nil, s.filter)
	ss.subs = append(ss.subs[:i], ss.subs[i+1:]...)
	ss.dirty = true
	return nil
}

func (ss *session) ack(c *pb.SessionAck) error {
	_, s := ss.find(c.GetSubscriptionId())
	if s == nil {
		return fmt.Errorf("%w: no subscription %q", transport.ErrNotFound, c.GetSubscriptionId())
	}
	if !s.manual {
		return fmt.Errorf("%w: subscription %q does not use manual_ack", transport.ErrBadRequest, s.id)
	}
	m := s.inflight[c.GetMessageId()]
	if m == nil {
		return fmt.Errorf("%w: no unacknowledged message %q on subscription %q", transport.ErrNotFound, c.GetMessageId(), s.id)
	}
	delete(s.inflight, c.GetMessageId())
	if c.GetNack() {
		return s.sub.Nack(m, c.GetRequeue())
	}
	return s.sub.Ack(m)
}

func (ss *session) deliver(s *sessionSub, m *pubsub.Message) error {
	if s.manual && m.ID != "" {
		s.inflight[m.ID] = m
	}
	if m.Cursor != "" {
		s.last = m.Cursor
	}
	resp := &pb.SessionResponse{Event: &pb.SessionResponse_Delivery{Delivery: &pb.SessionDelivery{
		SubscriptionId: s.id, Message: toProto(m)}}}
	if err := ss.send(resp); err != nil {
		return err
	}
	if obs := ss.h.o.Observer; obs.Observes() {
		obs.OnDelivered(transportName, m, proto.Size(resp))
	}
	return nil
}

// ended reports a subscription the broker ended (slow consumer, broker
// closed) and forgets it.
func (ss *session) ended(s *sessionSub) error {
	i, _ := ss.find(s.id)
	ss.subs = append(ss.subs[:i], ss.subs[i+1:]...)
	ss.dirty = true
	err := s.sub.Err()
	if err == nil {
		err = pubsub.ErrClosed
	}
	ss.h.o.Observer.OnSubEnded(transportName, transport.ReasonOf(err), err, s.filter)
	ce := ss.h.toError(err)
	msg := ce.Message()
	if errors.Is(err, pubsub.ErrSlowConsumer) {
		msg = "pubsub: slow consumer: the subscription fell too far behind"
	}
	return ss.send(&pb.SessionResponse{Event: &pb.SessionResponse_Ended{Ended: &pb.SessionEnded{
		SubscriptionId: s.id, Code: codeName(ce.Code()), Error: msg, LastCursor: s.last}}})
}

func (ss *session) closeAll(ctx context.Context) {
	for _, s := range ss.subs {
		if obs := ss.h.o.Observer; obs != nil {
			obs.OnSubEnded(transportName, ss.h.endReason(ctx, s.sub), s.sub.Err(), s.filter)
		}
		_ = s.sub.Close()
	}
	ss.subs = nil
}
