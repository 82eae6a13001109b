package pubsub

import (
	"context"
	"errors"
	"fmt"
)

// Request publishes msg to topic with a fresh reply topic
// ("$reply/<random>", which leading wildcards never match) in
// HeaderReplyTo and a correlation id in HeaderCorrelationID, then waits for
// the first reply carrying that correlation id. A responder answers with
// Reply. Cancel ctx (or give it a deadline) to stop waiting; the error is
// then the context's. Request works over any Broker. A msg.ID is kept: it
// is the request's idempotency key, so a Request repeating an ID the
// broker accepted within its dedup window is not delivered again (and gets
// no reply: the first one's went to its own reply topic).
func Request(ctx context.Context, b Broker, msg Message) (*Message, error) {
	if err := ValidateTopic(msg.Topic); err != nil {
		return nil, err
	}
	id := NewID()
	replyTo := "$reply/" + id
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := b.Subscribe(ctx, replyTo, &SubscribeOptions{Buffer: 4, NoRetained: true})
	if err != nil {
		return nil, fmt.Errorf("failed to subscribe to the reply topic: %w", err)
	}
	defer sub.Close()

	h := make(map[string]string, len(msg.Header)+2)
	for k, v := range msg.Header {
		h[k] = v
	}
	h[HeaderReplyTo] = replyTo
	h[HeaderCorrelationID] = id
	msg.Header = h
	msg.Cursor, msg.Retain = "", false
	if _, err := b.Publish(ctx, msg); err != nil {
		return nil, fmt.Errorf("failed to publish the request: %w", err)
	}
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("reply subscription ended: %w", sub.Err())
			}
			if m.Header[HeaderCorrelationID] == id {
				return m, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ErrNoReplyTo is returned by Reply for a request without HeaderReplyTo.
var ErrNoReplyTo = errors.New("pubsub: message has no reply-to header")

// Reply publishes reply to the reply topic of req, with its correlation id.
func Reply(ctx context.Context, b Broker, req *Message, reply Message) (Receipt, error) {
	to := req.Header[HeaderReplyTo]
	if to == "" {
		return Receipt{}, ErrNoReplyTo
	}
	h := make(map[string]string, len(reply.Header)+1)
	for k, v := range reply.Header {
		h[k] = v
	}
	h[HeaderCorrelationID] = req.Header[HeaderCorrelationID]
	reply.Header = h
	reply.Topic = to
	reply.Retain = false
	return b.Publish(ctx, reply)
}
