package graphqlsub

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Codes of a StreamError, found in the GraphQL error's extensions.code.
const (
	// CodeGap: the stream resumed from a cursor the broker's history no
	// longer reaches, so messages may have been missed; delivery continues
	// live after this event.
	CodeGap = "gap"
	// CodeSlowConsumer: the subscriber fell too far behind and the stream
	// ended; resubscribe with since = extensions.cursor to lose nothing.
	CodeSlowConsumer = "slow_consumer"
	// CodeUnavailable: the broker closed or failed and the stream ended;
	// resubscribe with since = extensions.cursor when it is back.
	CodeUnavailable = "unavailable"
	// CodeEventLost: the engine failed to resolve an event (for
	// graph-gophers: it exceeded SubscribeResolverTimeout, or panicked), so
	// the stream ended rather than skip it; resubscribe from the last
	// cursor received.
	CodeEventLost = "event_lost"
)

// StreamError is what a Stream reports in band: a history gap, or the end
// of the stream for a reason other than the client's unsubscribe. It
// implements Extensions, so graph-gophers/graphql-go (and the gophers
// adapter) put {"code":…, "cursor":…} in the GraphQL error's extensions.
type StreamError struct {
	// Code is CodeGap, CodeSlowConsumer or CodeUnavailable.
	Code string
	// Cursor is where to resume: the last cursor the stream delivered
	// (or was asked to resume from), "" when unknown.
	Cursor string
	// Err is the underlying broker error, if any.
	Err error
}

// Error describes the gap or the end of the stream and the cursor to
// resume from.
func (e *StreamError) Error() string {
	switch e.Code {
	case CodeGap:
		return fmt.Sprintf("graphqlsub: history does not reach back to cursor %q: messages may have been missed", e.Cursor)
	case CodeSlowConsumer:
		return fmt.Sprintf("graphqlsub: subscriber too slow, stream ended: resume after cursor %q", e.Cursor)
	}
	return fmt.Sprintf("graphqlsub: stream ended (%v): resume after cursor %q", e.Err, e.Cursor)
}

// Unwrap returns the underlying broker error (pubsub.ErrGap, a
// *pubsub.SlowConsumerError, pubsub.ErrClosed, …).
func (e *StreamError) Unwrap() error { return e.Err }

// Extensions returns {"code": Code, "cursor": Cursor}.
func (e *StreamError) Extensions() map[string]any {
	return map[string]any{"code": e.Code, "cursor": e.Cursor}
}

// Event is one item of a Stream: a message, or a StreamError.
type Event struct {
	// Message is the delivered message (shared: read-only); nil when Err
	// is set.
	Message *pubsub.Message
	// Err reports a gap (the stream goes on) or the end of the stream (the
	// last event).
	Err *StreamError
}

// StreamOptions tunes Stream. The zero value (or nil) subscribes live from
// now, with every message, and the broker's default buffer.
type StreamOptions struct {
	// Since resumes after this cursor (see pubsub.SubscribeOptions.Since).
	Since string
	// Match keeps the messages for which it returns true, typically by
	// comparing a resolver argument with the topic or payload; nil keeps
	// all. It runs on the stream's goroutine. Skipped messages are not
	// sent at all: a subscriber never sees an empty or null event for a
	// message meant for someone else.
	Match func(*pubsub.Message) bool
	// Buffer is the broker subscription's buffer; 0 means the broker's
	// default.
	Buffer int
}

// Stream subscribes to filter on b and returns a channel for a GraphQL
// subscription resolver: convert turns each Event into the resolver's
// element type (a message, or a gap or end-of-stream error that the
// element's field resolvers should return, so that clients see it).
//
// The channel is closed when the subscription ends: when ctx is done
// (closed quietly: the client unsubscribed) or after an Event with a
// StreamError ending it. A stream that resumed from a cursor the history no
// longer reaches first sends an Event with Err.Code == CodeGap. The
// goroutine Stream starts exits when ctx is done or the subscription ends;
// it never blocks the broker (sends select on ctx).
//
// Subscribe errors (ErrInvalidFilter, ErrInvalidCursor, ErrNotSupported,
// ErrClosed) are returned as is, for the resolver to return.
//
// The same call serves both engines; only the element type differs. With
// graph-gophers (graphqlsub/gophers) T is the resolver of the element
// type, whose field methods return ev.Err (see gophers.BrokerSchema). With
// gqlgen (graphqlsub/gqlgen) the resolver returns (<-chan *M, error) where
// M is the Go model bound to the element type in gqlgen.yml, and M's field
// methods return the error, so that gqlgen reports it whatever fields the
// client selected:
//
//	type Message struct {
//		m   *pubsub.Message
//		err error // ev.Err, when set
//	}
//
//	func (m *Message) Cursor() (string, error) {
//		if m.err != nil {
//			return "", m.err
//		}
//		return m.m.Cursor, nil
//	}
//
//	func (r *subscriptionResolver) MessageAdded(ctx context.Context, room string, since *string) (<-chan *Message, error) {
//		o := &graphqlsub.StreamOptions{}
//		if since != nil {
//			o.Since = *since // resume after the last cursor the client saw
//		}
//		return graphqlsub.Stream(ctx, r.broker, "rooms/"+room, o, func(ev graphqlsub.Event) *Message {
//			if ev.Err != nil {
//				return &Message{err: ev.Err} // a gap, or the end: slow consumer, broker gone
//			}
//			return &Message{m: ev.Message}
//		})
//	}
//
// Both adapters put the StreamError's {"code", "cursor"} in the GraphQL
// error's extensions and report it once per event. Store ev.Err in an
// error only when it is set: a nil *StreamError in an error is not a nil
// error. examples/gqlgenchat is a complete gqlgen schema built this way.
func Stream[T any](ctx context.Context, b pubsub.Broker, filter string, opts *StreamOptions, convert func(Event) T) (<-chan T, error) {
	var o StreamOptions
	if opts != nil {
		o = *opts
	}
	sub, err := b.Subscribe(ctx, filter, &pubsub.SubscribeOptions{Since: o.Since, Buffer: o.Buffer})
	if err != nil {
		return nil, err
	}
	out := make(chan T)
	go func() {
		defer close(out)
		defer sub.Close()
		send := func(ev Event) bool {
			select {
			case out <- convert(ev):
				return true
			case <-ctx.Done():
				return false
			}
		}
		last := o.Since
		if sub.Gap() && !send(Event{Err: &StreamError{Code: CodeGap, Cursor: o.Since, Err: pubsub.ErrGap}}) {
			return
		}
		for {
			var m *pubsub.Message
			var ok bool
			select {
			case <-ctx.Done():
				return
			case m, ok = <-sub.C():
			}
			if !ok {
				break
			}
			if m.Cursor != "" {
				last = m.Cursor
			}
			if o.Match != nil && !o.Match(m) {
				continue
			}
			if !send(Event{Message: m}) {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		err := sub.Err()
		code := CodeUnavailable
		var sce *pubsub.SlowConsumerError
		if errors.As(err, &sce) {
			code = CodeSlowConsumer
			if sce.LastCursor != "" {
				last = sce.LastCursor
			}
		}
		send(Event{Err: &StreamError{Code: code, Cursor: last, Err: err}})
	}()
	return out, nil
}
