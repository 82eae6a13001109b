package amqpx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/internal/fanout"
	"github.com/switchboard-go/switchboard/pubsub"
)

// queueSub is a subscription with its own AMQP consumer: a member of a group
// (consuming the group's durable queue with other members, on any node) or
// a ManualAck subscription (consuming a private queue). Its goroutine
// consumes across reconnects, with at most Prefetch unacknowledged
// deliveries; RabbitMQ holds the rest.
type queueSub struct {
	b        *Broker
	filters  []pubsub.Filter // a group's: exactly one
	keys     []string
	opts     pubsub.SubscribeOptions
	maxDeliv int // 0: no cap
	queue    string
	private  bool
	app      bool // an application's queue (Options.GroupQueues)
	ch       chan *pubsub.Message
	ctx      context.Context
	cancel   context.CancelFunc
	started  chan error    // the first setup's result
	done     chan struct{} // closed when run returns

	mu       sync.Mutex
	err      error
	inflight map[*pubsub.Message]inflight
	finished bool        // run has returned
	ctxStop  func() bool // stops the Subscribe context's AfterFunc
}

type inflight struct {
	ch  *amqp.Channel
	tag uint64
}

var _ pubsub.Subscription = (*queueSub)(nil)

// groupQueue names the durable queue of a group: readable, and unique per
// (group, filter) through a hash.
func groupQueue(prefix, group, filter string) string {
	sum := sha256.Sum256([]byte(group + "\x00" + filter))
	var b strings.Builder
	for _, r := range group {
		if b.Len() >= 64 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return prefix + ".group." + b.String() + "." + hex.EncodeToString(sum[:8])
}

func (s *queueSub) C() <-chan *pubsub.Message { return s.ch }
func (s *queueSub) Gap() bool                 { return false }

func (s *queueSub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops consuming; unacknowledged deliveries go back to the queue.
func (s *queueSub) Close() error {
	s.stop(pubsub.ErrClosed)
	return nil
}

func (s *queueSub) stop(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	s.cancel()
}

// Ack acknowledges a ManualAck delivery.
func (s *queueSub) Ack(m *pubsub.Message) error {
	if !s.opts.ManualAck || m == nil {
		return nil
	}
	f, err := s.take(m)
	if err != nil || f.ch == nil {
		return err
	}
	return s.settle(f.ch.Ack(f.tag, false))
}

// Nack rejects a ManualAck delivery. With requeue (below MaxDeliveries) the
// message is published again to the back of the queue with its attempt
// count, so a poison message cannot spin at the head; otherwise it is
// published to its dead-letter topic. The original is acknowledged once the
// copy is confirmed.
func (s *queueSub) Nack(m *pubsub.Message, requeue bool) error {
	if !s.opts.ManualAck || m == nil {
		return nil
	}
	f, err := s.take(m)
	if err != nil || f.ch == nil {
		return err
	}
	ctx := s.b.ctx
	switch {
	case requeue && (s.maxDeliv <= 0 || m.Attempt < s.maxDeliv):
		c := *m
		c.Header = make(map[string]string, len(m.Header))
		for k, v := range m.Header {
			c.Header[k] = v
		}
		p, err := toPublishing(&c, m.Time)
		if err != nil {
			return err
		}
		if p.Headers == nil {
			p.Headers = amqp.Table{}
		}
		p.Headers[hdrAttempt] = strconv.Itoa(m.Attempt + 1)
		p.Headers[hdrTopic] = m.Topic
		if err := s.b.pub.publish(ctx, "", s.queue, p); err != nil {
			_ = f.ch.Nack(f.tag, false, true)
			return fmt.Errorf("amqpx: failed to requeue: %w", err)
		}
	default:
		reason := "rejected"
		if requeue {
			reason = "max-deliveries"
		}
		if err := s.b.deadLetter(ctx, &s.opts, m, reason); err != nil {
			_ = f.ch.Nack(f.tag, false, true)
			return err
		}
	}
	return s.settle(f.ch.Ack(f.tag, false))
}

// take removes m from the in-flight deliveries. A zero inflight with nil
// error means m is unknown (already settled, or the subscription closed).
func (s *queueSub) take(m *pubsub.Message) (inflight, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.inflight[m]
	if !ok {
		return inflight{}, nil
	}
	delete(s.inflight, m)
	if f.ch.IsClosed() {
		if s.err != nil {
			return inflight{}, nil
		}
		return inflight{}, ErrStaleDelivery
	}
	return f, nil
}

func (s *queueSub) settle(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, amqp.ErrClosed) {
		return ErrStaleDelivery
	}
	return fmt.Errorf("amqpx: failed to settle a delivery: %w", err)
}

// run consumes until the subscription ends, then closes the channel C.
func (s *queueSub) run() {
	defer s.b.wg.Done()
	defer close(s.done)
	first := true
	for {
		conn, _, err := s.b.subConn.get(s.ctx)
		if err == nil {
			err = s.session(conn, &first)
		}
		if s.ctx.Err() != nil || first || errors.Is(err, ErrQueueLost) {
			if first { // the first setup failed: Subscribe returns err
				s.started <- err
			} else if errors.Is(err, ErrQueueLost) {
				s.stop(err)
			}
			break
		}
		s.b.log.Warn("amqpx: consumer stopped, resuming", "queue", s.queue, "err", err)
		if !conn.IsClosed() && pause(s.ctx, s.b.opts.MinBackoff) != nil {
			break
		}
	}
	s.mu.Lock()
	if s.err == nil {
		s.err = pubsub.ErrClosed
	}
	clear(s.inflight)
	s.finished = true
	if s.ctxStop != nil {
		s.ctxStop()
	}
	s.mu.Unlock()
	s.b.forget(s)
	if s.private {
		s.b.deleteQueue(s.queue)
	}
	close(s.ch)
}

// ensureAppQueue declares an application's queue only when it does not
// exist: declared with other arguments than ours, RabbitMQ would refuse a
// declaration.
func (s *queueSub) ensureAppQueue(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	_, err = ch.QueueDeclarePassive(s.queue, true, false, false, false, nil)
	_ = ch.Close()
	var aerr *amqp.Error
	if err == nil || !errors.As(err, &aerr) || aerr.Code != amqp.NotFound {
		return err
	}
	if ch, err = conn.Channel(); err != nil {
		return err
	}
	defer func() { _ = ch.Close() }()
	if _, err := ch.QueueDeclare(s.queue, true, false, false, false, nil); err != nil {
		return fmt.Errorf("amqpx: failed to declare queue %q: %w", s.queue, err)
	}
	return nil
}

func (s *queueSub) declare(ch *amqp.Channel) error {
	if s.app {
		return s.bind(ch)
	}
	args := amqp.Table{}
	if s.b.opts.MaxPriority > 0 {
		args["x-max-priority"] = int64(s.b.opts.MaxPriority)
	}
	durable := true
	if s.private {
		durable = false
		args["x-expires"] = int64(s.b.opts.NodeQueueExpiry.Milliseconds())
	} else if s.b.opts.GroupQueueExpiry > 0 {
		args["x-expires"] = int64(s.b.opts.GroupQueueExpiry.Milliseconds())
	}
	if _, err := ch.QueueDeclare(s.queue, durable, false, false, false, args); err != nil {
		return fmt.Errorf("amqpx: failed to declare queue %q: %w", s.queue, err)
	}
	return s.bind(ch)
}

// bind binds the queue to each filter's key (session declared the
// exchange).
func (s *queueSub) bind(ch *amqp.Channel) error {
	for _, key := range s.keys {
		if err := ch.QueueBind(s.queue, key, s.b.opts.Exchange, false, nil); err != nil {
			return fmt.Errorf("amqpx: failed to bind queue %q to %q: %w", s.queue, key, err)
		}
	}
	return nil
}

func (s *queueSub) session(conn *amqp.Connection, first *bool) error {
	if err := declareExchange(conn, &s.b.opts); err != nil {
		return err
	}
	if s.app {
		if err := s.ensureAppQueue(conn); err != nil {
			return fmt.Errorf("amqpx: queue %q: %w", s.queue, err)
		}
	}
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer func() { _ = ch.Close() }()
	if s.private && !*first {
		if _, err := ch.QueueDeclarePassive(s.queue, false, false, false, false, nil); err != nil {
			return ErrQueueLost
		}
	}
	if err := s.declare(ch); err != nil {
		return err
	}
	if err := ch.Qos(s.opts.Prefetch, 0, false); err != nil {
		return err
	}
	deliveries, err := ch.Consume(s.queue, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("amqpx: failed to consume queue %q: %w", s.queue, err)
	}
	if *first {
		*first = false
		s.started <- nil
	}
	for {
		var d amqp.Delivery
		var ok bool
		select {
		case d, ok = <-deliveries:
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
		if !ok {
			return fmt.Errorf("amqpx: deliveries of queue %q ended", s.queue)
		}
		m, err := fromDelivery(&d, "")
		if err != nil {
			s.b.log.Warn("amqpx: dropped a message with an unusable routing key", "queue", s.queue, "key", clip.String(d.RoutingKey), "err", err)
			_ = d.Ack(false)
			continue
		}
		if !s.app && !fanout.MatchAny(s.filters, m.Topic) { // the '$' rule AMQP lacks
			_ = d.Ack(false)
			continue
		}
		if s.opts.ManualAck {
			s.mu.Lock()
			s.inflight[m] = inflight{ch: ch, tag: d.DeliveryTag}
			s.mu.Unlock()
		}
		select {
		case s.ch <- m:
		case <-s.ctx.Done():
			return s.ctx.Err()
		}
		if !s.opts.ManualAck {
			_ = d.Ack(false)
		}
	}
}
