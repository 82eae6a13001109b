package ws

import (
	"context"
	"sync"

	"github.com/switchboard-go/switchboard/internal/opt"

	"github.com/switchboard-go/switchboard/pubsub"
)

// SubscribeOptions tunes Client.Subscribe. nil and the zero value subscribe
// live from now, alone, with the client's default buffer.
type SubscribeOptions struct {
	// Since resumes after this cursor (a Message.Cursor seen earlier).
	Since string
	// Group makes the subscription a competing consumer in this group.
	// The server asks its Auth.Authorize for transport.ActionJoin with the
	// group name; Subscribe fails with an *Error matching
	// transport.ErrForbidden when it refuses.
	Group string
	// Buffer is the capacity of the subscription's channel; 0 or negative
	// means ClientOptions.Buffer.
	Buffer int
}

// Event is one item of a subscription's stream: a message, or a gap.
type Event struct {
	// Message is the delivered message; nil for a gap. It is the
	// consumer's to keep and modify.
	Message *pubsub.Message
	// Gap reports that messages may have been missed at this point of the
	// stream: the server's history did not reach back to the cursor the
	// subscription resumed from (after a server restart with a new epoch,
	// or a long disconnection). Reload state from the source of truth.
	Gap bool
}

// Subscription is a subscription made by Client.Subscribe. It survives
// reconnects: the client resubscribes from the last cursor delivered on C.
// Its methods are safe for concurrent use.
type Subscription struct {
	c             *Client
	id            string
	filter, group string
	ch            chan Event
	done          chan struct{} // closed by end

	// Owned by the client's reading goroutine once registered.
	last      string // cursor to resume after
	confirmed bool   // the server confirmed it at least once

	sendMu   sync.Mutex // held while delivering to ch; end takes it to close ch
	chClosed bool

	ready     chan struct{}
	readyOnce sync.Once
	readyErr  error

	endOnce sync.Once
	errMu   sync.Mutex
	err     error
}

// Subscribe subscribes to filter (MQTT syntax) and waits until the server
// confirms. opts may be nil. Events arrive on the subscription's C.
//
// The client's one reading goroutine delivers to C and waits while C is
// full; meanwhile it reads nothing else. Consume C promptly, and do not wait
// on this client's Publish or Request from the goroutine that consumes C
// when its buffer may be full. A server that cannot write to a client that
// slow closes the connection (CloseSlowConsumer); the client then resumes
// from the last delivered cursor, losing nothing while history reaches back.
func (c *Client) Subscribe(ctx context.Context, filter string, opts *SubscribeOptions) (*Subscription, error) {
	if _, err := pubsub.ParseFilter(filter); err != nil {
		return nil, err
	}
	var o SubscribeOptions
	if opts != nil {
		o = *opts
	}
	o.Buffer = opt.OrMin(o.Buffer, c.opts.Buffer)
	s := &Subscription{c: c, id: c.newID("s"), filter: filter, group: o.Group, last: o.Since,
		ch: make(chan Event, o.Buffer), done: make(chan struct{}), ready: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		err := c.err
		c.mu.Unlock()
		return nil, err
	}
	c.subs[s.id] = s
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		// Connected: the run goroutine's resubscribe pass has already
		// happened, so this goroutine sends the frame. If the connection
		// drops meanwhile, the next pass sends it again.
		b := appendClientFrame(nil, &clientFrame{Type: typeSubscribe, ID: s.id, Filter: filter, Since: o.Since, Group: o.Group})
		_ = c.write(conn, b)
	}
	select {
	case <-s.ready:
		if s.readyErr != nil {
			return nil, s.readyErr
		}
		return s, nil
	case <-ctx.Done():
		_ = s.Close()
		return nil, ctx.Err()
	}
}

// C returns the channel of events. It is closed when the subscription ends:
// after Close (Err returns ErrClosed), when the client ends, or when the
// server ends the subscription with an error frame (Err returns the
// *Error).
func (s *Subscription) C() <-chan Event { return s.ch }

// Err returns nil while the subscription is active and why it ended once C
// is closed.
func (s *Subscription) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Close unsubscribes. It is idempotent and does not wait for the server.
func (s *Subscription) Close() error {
	c := s.c
	c.mu.Lock()
	_, registered := c.subs[s.id]
	if registered {
		delete(c.subs, s.id)
	}
	conn := c.conn
	c.mu.Unlock()
	s.end(ErrClosed)
	if registered && conn != nil {
		_ = c.write(conn, appendClientFrame(nil, &clientFrame{Type: typeUnsubscribe, ID: s.id}))
	}
	return nil
}

func (s *Subscription) setReady(err error) {
	s.readyOnce.Do(func() {
		s.readyErr = err
		close(s.ready)
	})
}

// deliver puts ev on C; false when the subscription or client ended first.
func (s *Subscription) deliver(c *Client, ev Event) bool {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.chClosed {
		return false
	}
	select {
	case s.ch <- ev:
		return true
	case <-s.done:
		return false
	case <-c.ctx.Done():
		return false
	}
}

func (s *Subscription) end(err error) {
	s.endOnce.Do(func() {
		s.errMu.Lock()
		s.err = err
		s.errMu.Unlock()
		close(s.done) // aborts a delivery in progress, so sendMu is free soon
		s.sendMu.Lock()
		s.chClosed = true
		close(s.ch)
		s.sendMu.Unlock()
	})
}
