package amqpx

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/switchboard-go/switchboard/pubsub"
)

var _ pubsub.HistoryReader = (*Broker)(nil)

// syncTopic is the topic of the markers a node publishes to learn the
// stream's head (leading wildcards never match it).
const syncTopic = "$sb/sync"

// cursor encodes a stream offset.
func (b *Broker) cursor(off uint64) string {
	return pubsub.Cursor{Epoch: b.opts.HistoryEpoch, Seq: off}.String()
}

// offsetOf decodes the offset of a message this Broker delivered.
func offsetOf(m *pubsub.Message) uint64 {
	c, _ := pubsub.ParseCursor(m.Cursor)
	return c.Seq
}

// awaitOffset waits until the node consumer has seen the message whose
// offset w will carry.
func (b *Broker) awaitOffset(ctx context.Context, w <-chan uint64) (uint64, error) {
	select {
	case off := <-w:
		return off, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-b.ctx.Done():
		return 0, pubsub.ErrClosed
	}
}

// mark publishes a marker to the stream and returns its offset: every
// message before it in the stream has a smaller offset, every later one a
// larger offset. It is the head a resume or a history read runs up to.
func (b *Broker) mark(ctx context.Context) (uint64, error) {
	r, err := b.Publish(ctx, pubsub.Message{Topic: syncTopic, Data: []byte{}})
	if err != nil {
		return 0, fmt.Errorf("amqpx: failed to mark the history stream: %w", err)
	}
	c, err := pubsub.ParseCursor(r.Cursor)
	if err != nil {
		return 0, err
	}
	return c.Seq, nil
}

// readStream consumes the history stream from offset from, calling fn for
// each delivery in offset order until fn returns false, stop is closed or
// ctx is done. It survives reconnects, resuming after the last offset read.
func (b *Broker) readStream(ctx context.Context, stop <-chan struct{}, from uint64, fn func(off uint64, d *amqp.Delivery) bool) error {
	next := from
	for {
		conn, _, err := b.subConn.get(ctx)
		if err != nil {
			return err
		}
		done, err := b.readSession(ctx, stop, conn, &next, fn)
		if done {
			return err
		}
		if !conn.IsClosed() {
			return err // a channel error on a live connection
		}
	}
}

var errDeliveriesEnded = errors.New("amqpx: stream deliveries ended")

func (b *Broker) readSession(ctx context.Context, stop <-chan struct{}, conn *amqp.Connection, next *uint64, fn func(uint64, *amqp.Delivery) bool) (bool, error) {
	ch, err := conn.Channel()
	if err != nil {
		return false, err
	}
	defer func() { _ = ch.Close() }()
	if err := ch.Qos(256, 0, false); err != nil {
		return false, err
	}
	deliveries, err := ch.Consume(b.opts.HistoryStream, "", false, false, false, false,
		amqp.Table{"x-stream-offset": int64(*next)})
	if err != nil {
		return false, fmt.Errorf("amqpx: failed to read the history stream: %w", err)
	}
	for {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return false, errDeliveriesEnded
			}
			_ = d.Ack(false)
			off, ok := intValue(d.Headers["x-stream-offset"])
			if !ok || off < 0 || uint64(off) < *next {
				continue // chunks start before the offset asked for
			}
			*next = uint64(off) + 1
			if !fn(uint64(off), &d) {
				return true, nil
			}
		case <-ctx.Done():
			return true, ctx.Err()
		case <-stop:
			return true, nil
		}
	}
}

// History reads the stream: the messages matching filter after
// opts.Since, oldest first, up to the head at the time of the call (a
// marker this call publishes). It needs Options.History; otherwise it fails
// with pubsub.ErrNotSupported.
func (b *Broker) History(ctx context.Context, filter string, opts pubsub.HistoryOptions) (pubsub.HistoryPage, error) {
	f, err := pubsub.ParseFilter(filter)
	if err != nil {
		return pubsub.HistoryPage{}, err
	}
	var since pubsub.Cursor
	if opts.Since != "" {
		if since, err = pubsub.ParseCursor(opts.Since); err != nil {
			return pubsub.HistoryPage{}, err
		}
	}
	if !b.opts.History {
		return pubsub.HistoryPage{}, fmt.Errorf("%w: history is off (Options.History)", pubsub.ErrNotSupported)
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = 100
	}
	if err := b.begin(); err != nil {
		return pubsub.HistoryPage{}, err
	}
	defer b.inflight.Done()
	head, err := b.mark(ctx)
	if err != nil {
		return pubsub.HistoryPage{}, err
	}
	var p pubsub.HistoryPage
	p.Head = b.cursor(head)
	p.Next = p.Head
	from := uint64(0)
	if opts.Since != "" {
		if since.Epoch == b.opts.HistoryEpoch && since.Seq < head {
			from = since.Seq + 1
		} else {
			p.Gap = true
		}
	}
	first := true
	err = b.readStream(ctx, nil, from, func(off uint64, d *amqp.Delivery) bool {
		if first && from > 0 && off > from {
			p.Gap = true // retention removed what followed Since
		}
		first = false
		if off >= head {
			return false
		}
		m, err := fromDelivery(d)
		if err != nil || !f.Match(m.Topic) {
			return true
		}
		m.Cursor = b.cursor(off)
		if len(p.Messages) == limit {
			p.More = true
			p.Next = p.Messages[limit-1].Cursor
			return false
		}
		p.Messages = append(p.Messages, m)
		return true
	})
	if err != nil {
		if b.ctx.Err() != nil {
			return pubsub.HistoryPage{}, pubsub.ErrClosed
		}
		return pubsub.HistoryPage{}, err
	}
	return p, nil
}

// subscribeSince starts a plain subscription that replays the stream after
// since, then continues live with no gap and no duplicate: the
// subscription joins the fan-out first (live messages wait in pending), a
// marker fixes the head, the replay reads up to the marker, and pending
// messages after it follow.
func (b *Broker) subscribeSince(ctx context.Context, f pubsub.Filter, key string, o pubsub.SubscribeOptions, since pubsub.Cursor) (pubsub.Subscription, error) {
	s := newLiveSub(b, f, key, o)
	if err := b.node.acquire(ctx, key); err != nil {
		return nil, err
	}
	if since.Epoch != b.opts.HistoryEpoch {
		s.gap = true // another stream's cursor: live from now
		if !b.fan.add(s) {
			b.node.release(key)
			return nil, pubsub.ErrClosed
		}
		s.watch(ctx)
		return s, nil
	}
	s.replaying = true
	if !b.fan.add(s) {
		b.node.release(key)
		return nil, pubsub.ErrClosed
	}
	head, err := b.mark(ctx)
	if err != nil {
		s.mu.Lock()
		s.replaying = false
		s.mu.Unlock()
		s.end(err)
		return nil, err
	}
	from := since.Seq + 1
	if from > head {
		s.gap = true // a cursor from the future: live from now
		b.wg.Add(1)
		go b.replay(s, from, head, nil)
		s.watch(ctx)
		return s, nil
	}
	gap := make(chan error, 1)
	b.wg.Add(1)
	go b.replay(s, from, head, gap)
	select {
	case err = <-gap:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil && !errors.Is(err, errGap) {
		s.end(err)
		return nil, err
	}
	s.gap = err != nil
	s.watch(ctx)
	return s, nil
}

var errGap = errors.New("gap")

// replay sends the stream's matching messages in [from, head) to s, then
// the pending live messages after head, then hands s back to the node
// consumer. first (if not nil) learns whether the replay starts with a gap
// (errGap), nil, or why it could not start; gap or not, it is told before
// anything is sent. With a gap nothing is replayed.
func (b *Broker) replay(s *liveSub, from, head uint64, first chan<- error) {
	defer b.wg.Done()
	gap := first == nil
	if first != nil {
		reported := false
		err := b.readStream(b.ctx, s.done, from, func(off uint64, d *amqp.Delivery) bool {
			if !reported {
				reported = true
				if off > from {
					gap = true
					first <- errGap
					return false
				}
				first <- nil
			}
			if off >= head {
				return false
			}
			m, err := fromDelivery(d)
			if err != nil || !s.filter.Match(m.Topic) {
				return true
			}
			m.Cursor = b.cursor(off)
			select {
			case s.ch <- m:
				s.mu.Lock()
				s.sent(m)
				s.mu.Unlock()
				return true
			case <-s.done:
				return false
			}
		})
		if !reported {
			if err == nil {
				err = pubsub.ErrClosed
			}
			first <- err
		}
	}
	// Hand over: the pending live messages after the head, then live.
	for {
		s.mu.Lock()
		if s.closed {
			s.replaying = false
			s.pending = nil
			close(s.ch)
			s.mu.Unlock()
			return
		}
		batch := s.pending
		s.pending = nil
		if len(batch) == 0 {
			s.replaying = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, m := range batch {
			if !gap && offsetOf(m) <= head {
				continue // the replay covered it
			}
			select {
			case s.ch <- m:
				s.mu.Lock()
				s.sent(m)
				s.mu.Unlock()
			case <-s.done:
			}
		}
	}
}
