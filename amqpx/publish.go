package amqpx

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/switchboard-go/switchboard/pubsub"
)

// maxPublishAttempts bounds how often one Publish is retried on fresh
// channels after its channel closed before the confirm arrived.
const maxPublishAttempts = 8

// publisher owns the confirm-mode channel on the publishing connection.
// Every publish waits for its own confirm (deferred confirmations), and
// concurrent publishes pipeline on the one channel.
type publisher struct {
	conn     *connector
	exchange string
	opts     *Options      // for declareExchange
	wait     time.Duration // bound on waiting for a connection; 0: ctx only
	sem      chan struct{} // guards ch; a channel so waiting honours ctx
	ch       *amqp.Channel
}

func newPublisher(c *connector, o *Options) *publisher {
	return &publisher{conn: c, exchange: o.Exchange, opts: o, wait: o.PublishWait, sem: make(chan struct{}, 1)}
}

// channel returns the open confirm channel, opening one (and declaring the
// exchange) after a reconnect.
func (p *publisher) channel(ctx context.Context) (*amqp.Channel, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.sem }()
	if p.ch != nil && !p.ch.IsClosed() {
		return p.ch, nil
	}
	for {
		conn, err := p.connection(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := openConfirm(conn, p.opts)
		if err == nil {
			p.ch = ch
			return ch, nil
		}
		if !conn.IsClosed() {
			return nil, err
		}
		// the connection dropped while we set up: wait for the next one
	}
}

// connection returns the live publishing connection, waiting at most
// p.wait for one while RabbitMQ is unreachable.
func (p *publisher) connection(ctx context.Context) (*amqp.Connection, error) {
	wctx := ctx
	if p.wait > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, p.wait)
		defer cancel()
	}
	conn, _, err := p.conn.get(wctx)
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		return nil, fmt.Errorf("%w: amqpx: no connection to RabbitMQ within %v", pubsub.ErrUnavailable, p.wait)
	}
	return conn, err
}

func openConfirm(conn *amqp.Connection, o *Options) (*amqp.Channel, error) {
	if err := declareExchange(conn, o); err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("amqpx: failed to open a channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("amqpx: failed to enable publisher confirms: %w", err)
	}
	return ch, nil
}

// publish sends p to exchange with key and waits for the confirm. When the
// channel closes before the confirm (a connection loss), it publishes again
// on the next channel: delivery is at least once, and the message keeps its
// id so consumers can tell duplicates.
func (p *publisher) publish(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	var last error
	for attempt := 0; attempt < maxPublishAttempts; attempt++ {
		ch, err := p.channel(ctx)
		if err != nil {
			return err
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if ch.IsClosed() || errors.Is(err, amqp.ErrClosed) {
				last = err
				continue
			}
			return fmt.Errorf("amqpx: failed to publish: %w", err)
		}
		select {
		case <-dc.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
		if dc.Acked() {
			return nil
		}
		if !ch.IsClosed() {
			return ErrNacked
		}
		last = amqp.ErrClosed
		// Give the connector a moment to notice a dead connection before
		// the next attempt opens a channel on it.
		if err := pause(ctx, time.Duration(attempt)*10*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: amqpx: failed to publish after %d attempts: %w", pubsub.ErrUnavailable, maxPublishAttempts, last)
}

// close closes the channel (the connection closes with the connector).
func (p *publisher) close() {
	select {
	case p.sem <- struct{}{}:
	default:
		return // a publish holds it; the connection close ends it
	}
	if p.ch != nil {
		_ = p.ch.Close()
	}
	<-p.sem
}

func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
