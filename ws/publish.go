package ws

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
)

// maxWriteAttempts caps how often roundTrip writes one frame.
const maxWriteAttempts = 3

// roundTrip sends f with a fresh id and waits for the answer with that id.
// A frame that could not be written never reached the server, so it is
// sent again on the next connection (up to maxWriteAttempts times); once
// written, a lost connection fails the call with ErrDisconnected.
func (c *Client) roundTrip(ctx context.Context, prefix string, f *clientFrame) (serverFrame, error) {
	f.ID = c.newID(prefix)
	b := appendClientFrame(nil, f)
	for attempt := 1; ; attempt++ {
		ch := make(chan serverFrame, 1) // fresh: a failed attempt may hold a stale answer
		conn, err := c.connected(ctx)
		if err != nil {
			return serverFrame{}, err
		}
		c.mu.Lock()
		if c.conn != conn {
			c.mu.Unlock()
			continue
		}
		down := c.down
		c.pending[f.ID] = ch
		c.mu.Unlock()
		if err := c.write(conn, b); err != nil {
			c.mu.Lock()
			delete(c.pending, f.ID)
			c.mu.Unlock()
			_ = conn.CloseNow() // make the reader notice now
			if attempt == maxWriteAttempts {
				// The frame itself may be the cause (the server closes
				// with 1009 while a frame over its read limit is written).
				return serverFrame{}, fmt.Errorf("%w: %w", ErrDisconnected, err)
			}
			select {
			case <-down:
				continue
			case <-ctx.Done():
				return serverFrame{}, ctx.Err()
			}
		}
		select {
		case r := <-ch:
			switch r.Type {
			case "":
				return r, ErrDisconnected
			case typeError:
				return r, &Error{Code: r.Code, Message: r.Message}
			}
			return r, nil
		case <-ctx.Done():
			c.mu.Lock()
			delete(c.pending, f.ID)
			c.mu.Unlock()
			return serverFrame{}, ctx.Err()
		}
	}
}

// Publish publishes msg (Topic, Data, Header, Retain) and waits for the
// server's acknowledgement. It waits for a connection if there is none. An
// error frame is returned as *Error; a connection lost before the answer
// gives ErrDisconnected (the message may have been published). msg.ID, when
// set, is sent as the frame's "key", the broker's idempotency key: publish
// again with the same ID after ErrDisconnected and the server answers
// with the original receipt instead of delivering the message twice.
func (c *Client) Publish(ctx context.Context, msg pubsub.Message) (pubsub.Receipt, error) {
	r, err := c.roundTrip(ctx, "p", &clientFrame{Type: typePublish, Key: msg.ID,
		frameMessage: frameMessage{Topic: msg.Topic, Header: msg.Header, Retain: msg.Retain}, payload: msg.Data})
	if err != nil {
		return pubsub.Receipt{}, err
	}
	rec := pubsub.Receipt{ID: r.MessageID, Cursor: r.Cursor}
	if r.Time != "" {
		rec.Time, _ = time.Parse(time.RFC3339Nano, r.Time)
	}
	return rec, nil
}

// Request publishes msg as a request (pubsub.Request on the server) and
// returns the reply. The server waits for the reply until ctx's deadline
// (sent as timeout_ms) or its own default. A timeout is an *Error with
// code "timeout" (errors.Is(err, context.DeadlineExceeded)).
func (c *Client) Request(ctx context.Context, msg pubsub.Message) (*pubsub.Message, error) {
	f := &clientFrame{Type: typeRequest, frameMessage: frameMessage{Topic: msg.Topic, Header: msg.Header}, payload: msg.Data}
	if d, ok := ctx.Deadline(); ok {
		f.TimeoutMS = max(1, time.Until(d).Milliseconds())
	}
	r, err := c.roundTrip(ctx, "r", f)
	if err != nil {
		return nil, err
	}
	return r.message()
}

// Reply answers a request message received on a subscription: it publishes
// reply to the request's reply topic (header sb-reply-to) with its
// correlation id (header sb-correlation-id). It fails with
// pubsub.ErrNoReplyTo when req is not a request.
func (c *Client) Reply(ctx context.Context, req *pubsub.Message, reply pubsub.Message) (pubsub.Receipt, error) {
	to := req.Header[pubsub.HeaderReplyTo]
	if to == "" {
		return pubsub.Receipt{}, pubsub.ErrNoReplyTo
	}
	h := make(map[string]string, len(reply.Header)+1)
	for k, v := range reply.Header {
		h[k] = v
	}
	h[pubsub.HeaderCorrelationID] = req.Header[pubsub.HeaderCorrelationID]
	reply.Topic, reply.Header, reply.Retain = to, h, false
	return c.Publish(ctx, reply)
}
