package amqpx

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

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
	// Bound concurrent stream readers: a burst of resumes or history reads
	// must not exhaust the connection's channels or swamp RabbitMQ.
	select {
	case b.readers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return nil
	}
	defer func() { <-b.readers }()
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
	tag := "sb-read-" + pubsub.NewID()
	deliveries, err := ch.Consume(b.opts.HistoryStream, tag, false, false, false, false,
		amqp.Table{"x-stream-offset": int64(*next)})
	if err != nil {
		return false, fmt.Errorf("amqpx: failed to read the history stream: %w", err)
	}
	// Cancel explicitly: RabbitMQ 3.10 keeps counting a stream consumer
	// whose channel merely closed.
	defer func() { _ = ch.Cancel(tag, false) }()
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

// resumePoint returns the first offset after cursor sequence seq. A cursor
// beyond this node's head is usually another node's, a little ahead: a
// marker settles it (its offset is beyond every message published before
// it), and a cursor at or beyond the marker is from the future: a gap,
// resuming from the head.
func (b *Broker) resumePoint(ctx context.Context, seq uint64) (from uint64, gap bool, err error) {
	if int64(seq) <= b.node.headOffset() {
		return seq + 1, false, nil
	}
	m, err := b.mark(ctx)
	if err != nil {
		return 0, false, err
	}
	if seq >= m {
		return m + 1, true, nil
	}
	return seq + 1, false, nil
}

// History reads the stream: the messages matching filter after opts.Since,
// oldest first, up to the head — the newest message this node has read from
// the stream (every message this node published is included; one another
// node published a moment ago may come on the next page). A read with
// nothing newer than Since, or with a negative Limit (the head only), opens
// no stream consumer; a read without Since scans from the stream's start.
// It needs Options.History; otherwise it fails with pubsub.ErrNotSupported.
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
	if limit == 0 {
		limit = 100
	}
	if err := b.begin(); err != nil {
		return pubsub.HistoryPage{}, err
	}
	defer b.inflight.Done()
	var p pubsub.HistoryPage
	from := uint64(0)
	if opts.Since != "" {
		if since.Epoch != b.opts.HistoryEpoch {
			p.Gap = true
		} else if from, p.Gap, err = b.resumePoint(ctx, since.Seq); err != nil {
			return pubsub.HistoryPage{}, err
		}
		if p.Gap {
			from = 0 // like a cursor from another epoch: from the oldest kept
		}
	}
	h := b.node.headOffset()
	if h < 0 {
		return p, nil // the node has read nothing yet
	}
	head := uint64(h)
	p.Head = b.cursor(head)
	p.Next = p.Head
	if from > head || limit < 0 {
		return p, nil // nothing newer, or only the head asked for: no stream read
	}
	first := true
	err = b.readStream(ctx, nil, from, func(off uint64, d *amqp.Delivery) bool {
		if first && opts.Since != "" && !p.Gap && off > from {
			p.Gap = true // retention removed what followed Since
		}
		first = false
		if off > head {
			return false
		}
		if m, err := fromDelivery(d); err == nil && f.Match(m.Topic) {
			m.Cursor = b.cursor(off)
			if b.dedup.Copy(m) {
				return off < head
			}
			if len(p.Messages) == limit {
				p.More = true
				p.Next = p.Messages[limit-1].Cursor
				return false
			}
			p.Messages = append(p.Messages, m)
		}
		return off < head
	})
	if err != nil {
		if b.ctx.Err() != nil {
			return pubsub.HistoryPage{}, pubsub.ErrClosed
		}
		return pubsub.HistoryPage{}, err
	}
	return p, nil
}

// subscribeSince starts plain subscription s (its bindings acquired) that
// replays the stream after since, then continues live with no gap and no
// duplicate: the replay reads the stream once for all of s's filters, in
// stream order. The subscription joins the fan-out first (holding live
// messages back), then reads the node's head; the replay reads the stream
// up to the head, and the held messages after it follow.
func (b *Broker) subscribeSince(ctx context.Context, s *liveSub, since pubsub.Cursor) (pubsub.Subscription, error) {
	if since.Epoch != b.opts.HistoryEpoch {
		s.SetGap(true) // another stream's cursor: live from now
		if !b.fan.Add(s) {
			b.releaseAll(s)
			return nil, pubsub.ErrClosed
		}
		s.Watch(ctx)
		return s, nil
	}
	s.Hold()
	if !b.fan.Add(s) {
		b.releaseAll(s)
		return nil, pubsub.ErrClosed
	}
	// Read the head after joining the fan-out: every message past it is
	// held back, every message up to it is in the stream.
	from, gap, err := b.resumePoint(ctx, since.Seq)
	if err != nil {
		s.Stop(err)
		s.Replay(nil, nil, 0) // closes C
		return nil, err
	}
	h := b.node.headOffset()
	head := uint64(max(h, 0))
	if gap || h < 0 || from > head {
		s.SetGap(gap) // a cursor from the future: live from now
		b.wg.Add(1)
		go b.replay(s, from, head, nil, gap)
		s.Watch(ctx)
		return s, nil
	}
	first := make(chan error, 1)
	b.wg.Add(1)
	go b.replay(s, from, head, first, false)
	select {
	case err = <-first:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil && !errors.Is(err, errGap) {
		s.Stop(err)
		return nil, err
	}
	s.SetGap(err != nil)
	s.Watch(ctx)
	return s, nil
}

var errGap = errors.New("gap")

// replayStall is how long a replay waits for a subscriber with a full
// buffer before ending it as a slow consumer: a replay holds a stream
// reader (see maxStreamReaders), which a stalled client must not keep.
const replayStall = 5 * time.Second

// replay sends the stream's matching messages in [from, head] to s, then
// the held live messages after head, then hands s back to the node
// consumer. first (if not nil) learns whether the replay starts with a gap
// (errGap), nil, or why it could not start, before anything is sent. With a
// gap nothing is replayed. Without first there is nothing to replay.
func (b *Broker) replay(s *liveSub, from, head uint64, first chan<- error, gap bool) {
	defer b.wg.Done()
	var backlog iter.Seq[*pubsub.Message]
	if first != nil {
		backlog = func(yield func(*pubsub.Message) bool) {
			reported := false
			err := b.readStream(b.ctx, s.Done(), from, func(off uint64, d *amqp.Delivery) bool {
				if !reported {
					reported = true
					if off > from {
						gap = true
						first <- errGap
						return false
					}
					first <- nil
				}
				if off > head {
					return false
				}
				m, err := fromDelivery(d)
				if err != nil || !s.Match(m.Topic) {
					return off < head
				}
				m.Cursor = b.cursor(off)
				if b.dedup.Copy(m) {
					return off < head
				}
				return yield(m) && off < head
			})
			if !reported {
				if err == nil { // stopped by s ending: say why (a slow consumer, say)
					err = s.Err()
				}
				if err == nil {
					err = pubsub.ErrClosed
				}
				first <- err
			}
		}
	}
	covered := func(m *pubsub.Message) bool { return !gap && offsetOf(m) <= head }
	if s.Replay(backlog, covered, replayStall) {
		b.detach(s)
	}
}
