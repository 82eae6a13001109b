package natsx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-go/switchboard/pubsub"
)

// queueSub is a subscription with its own JetStream pull consumer: a
// member of a group (a durable consumer shared by every member on every
// node) or a ManualAck subscription (a private ephemeral consumer). Its
// goroutine pulls messages and delivers them through the Feed's replay
// path, which waits for room on C, so at most Buffer messages are pulled
// and not yet received; with ManualAck at most Prefetch are unacknowledged.
type queueSub struct {
	*pubsub.Feed
	b        *Broker
	filter   pubsub.Filter
	opts     pubsub.SubscribeOptions
	maxDeliv int // 0: no cap
	cons     jetstream.Consumer
	name     string // the consumer's name
	private  bool
	ctx      context.Context
	cancel   context.CancelFunc
	tokens   chan struct{} // ManualAck: one per unacknowledged delivery allowed

	mu       sync.Mutex
	inflight map[*pubsub.Message]jetstream.Msg
}

var _ pubsub.Subscription = (*queueSub)(nil)

// groupConsumer names the durable consumer of a group: readable, and
// unique per (group, filter) through a hash.
func groupConsumer(group, filter string) string {
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
	return "sb_group_" + b.String() + "_" + hex.EncodeToString(sum[:8])
}

func (b *Broker) subscribeQueue(ctx context.Context, f pubsub.Filter, subject string, o pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	s := &queueSub{Feed: pubsub.NewFeed(o.Buffer, pubsub.OverflowClose), b: b, filter: f, opts: o,
		inflight: make(map[*pubsub.Message]jetstream.Msg)}
	if o.MaxDeliveries > 0 {
		s.maxDeliv = o.MaxDeliveries
	}
	cfg := jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.opts.AckWait,
		MaxDeliver:    -1, // counted here, so the last attempt dead-letters
		FilterSubject: subject,
	}
	if o.Group != "" {
		cfg.Durable = groupConsumer(o.Group, f.String())
		cfg.InactiveThreshold = b.opts.GroupExpiry
	} else {
		s.private = true
		// No MaxAckPending: the tokens bound unacknowledged deliveries
		// to Prefetch here. A pull that reaches the server while the
		// consumer is at its MaxAckPending can be refused with a 409
		// status, which the client library reports without re-pulling
		// until the heartbeat check resets it (~10 s): a nacked message
		// then came back that late (NackRedeliver failed in CI).
		cfg.InactiveThreshold = time.Minute // a node that vanished leaves nothing behind
		cfg.MemoryStorage = true
	}
	var err error
	if s.private {
		s.cons, err = b.historyStream().CreateConsumer(ctx, cfg)
	} else {
		s.cons, err = b.historyStream().CreateOrUpdateConsumer(ctx, cfg)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("natsx: failed to create the consumer: %w", err)
	}
	s.name = s.cons.CachedInfo().Name
	if o.ManualAck {
		s.tokens = make(chan struct{}, o.Prefetch)
		for range o.Prefetch {
			s.tokens <- struct{}{}
		}
	}
	s.ctx, s.cancel = context.WithCancel(b.ctx)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.cancel()
		s.deleteConsumer()
		return nil, pubsub.ErrClosed
	}
	b.qsubs[s] = struct{}{}
	b.mu.Unlock()
	it, err := s.cons.Messages(jetstream.PullMaxMessages(max(1, min(o.Prefetch, 64))),
		jetstream.PullHeartbeat(5*time.Second), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		b.forget(s)
		s.cancel()
		s.deleteConsumer()
		return nil, fmt.Errorf("natsx: failed to consume: %w", err)
	}
	s.Hold()
	b.wg.Add(1)
	go s.run(it)
	s.Watch(ctx, s.end)
	return s, nil
}

func (s *queueSub) Gap() bool { return false }

// Close stops consuming; unacknowledged deliveries are redelivered.
func (s *queueSub) Close() error {
	s.end(pubsub.ErrClosed)
	return nil
}

// end ends the feed with err and stops the consumer goroutine.
func (s *queueSub) end(err error) {
	s.End(err)
	s.cancel()
}

// run pulls messages until the subscription ends.
func (s *queueSub) run(it jetstream.MessagesContext) {
	defer s.b.wg.Done()
	defer s.b.forget(s)
	stop := context.AfterFunc(s.ctx, it.Stop)
	defer stop()
	backlog := func(yield func(*pubsub.Message) bool) {
		for {
			if s.tokens != nil {
				select {
				case <-s.tokens:
				case <-s.ctx.Done():
					return
				}
			}
			msg, err := it.Next(jetstream.NextContext(s.ctx))
			if errors.Is(err, jetstream.ErrNoHeartbeat) && s.ctx.Err() == nil {
				if err = s.exists(); err == nil {
					s.giveToken()
					continue // a reconnect, say: the iterator pulls again
				}
			}
			if err != nil {
				if s.ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					s.b.log.Warn("natsx: consumer ended", "consumer", s.name, "err", err)
					if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
						err = fmt.Errorf("%w: %w", ErrConsumerLost, err)
					}
					s.End(err)
				}
				return
			}
			m, attempt := s.message(msg)
			if m == nil {
				_ = msg.Term()
				s.giveToken()
				continue
			}
			m.Attempt = attempt
			if s.opts.ManualAck {
				s.mu.Lock()
				s.inflight[m] = msg
				s.mu.Unlock()
			}
			if !yield(m) {
				if s.opts.ManualAck {
					s.take(m)
				}
				_ = msg.Nak() // not handed over: redeliver
				return
			}
			if !s.opts.ManualAck {
				_ = msg.Ack()
			}
		}
	}
	s.Replay(backlog, nil, 0)
	s.End(pubsub.ErrClosed)
	s.cancel()
	it.Stop()
	// Unacknowledged deliveries go back at once rather than after AckWait.
	s.mu.Lock()
	for m, msg := range s.inflight {
		_ = msg.Nak()
		delete(s.inflight, m)
	}
	s.mu.Unlock()
	if s.private {
		s.deleteConsumer()
	}
}

// message decodes a pulled message; nil for one outside the filter or one
// that does not decode (logged: the caller terminates it).
func (s *queueSub) message(msg jetstream.Msg) (*pubsub.Message, int) {
	meta, err := msg.Metadata()
	if err != nil {
		s.b.log.Warn("natsx: dropped a message without metadata", "consumer", s.name, "subject", msg.Subject(), "err", err)
		return nil, 0
	}
	m := s.b.decode(meta.Sequence.Stream, msg)
	if m == nil {
		s.b.log.Warn("natsx: dropped a message that maps to no topic", "consumer", s.name, "subject", msg.Subject())
		return nil, 0
	}
	if !s.filter.Match(m.Topic) {
		return nil, 0
	}
	return m, int(meta.NumDelivered)
}

// exists checks that the consumer is still on the server after its
// heartbeats stopped; a server restarted without it lost it.
func (s *queueSub) exists() error {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	_, err := s.cons.Info(ctx)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: %w", ErrConsumerLost, err)
	}
	return nil
}

func (s *queueSub) deleteConsumer() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.b.historyStream().DeleteConsumer(ctx, s.name)
}

func (s *queueSub) giveToken() {
	if s.tokens != nil {
		select {
		case s.tokens <- struct{}{}:
		default:
		}
	}
}

// take removes m from the in-flight deliveries; nil when unknown.
func (s *queueSub) take(m *pubsub.Message) jetstream.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, ok := s.inflight[m]
	if !ok {
		return nil
	}
	delete(s.inflight, m)
	return msg
}

// Ack acknowledges a ManualAck delivery.
func (s *queueSub) Ack(m *pubsub.Message) error {
	if !s.opts.ManualAck || m == nil {
		return nil
	}
	msg := s.take(m)
	if msg == nil {
		return nil
	}
	defer s.giveToken()
	if err := msg.Ack(); err != nil {
		return fmt.Errorf("%w: %w", ErrStaleDelivery, err)
	}
	return nil
}

// Nack rejects a ManualAck delivery. With requeue, below MaxDeliveries,
// the server redelivers it after Options.NackDelay; otherwise it is
// published to its dead-letter topic and then terminated.
func (s *queueSub) Nack(m *pubsub.Message, requeue bool) error {
	if !s.opts.ManualAck || m == nil {
		return nil
	}
	msg := s.take(m)
	if msg == nil {
		return nil
	}
	defer s.giveToken()
	if requeue && (s.maxDeliv <= 0 || m.Attempt < s.maxDeliv) {
		var err error
		if d := s.b.opts.NackDelay; d > 0 {
			err = msg.NakWithDelay(d)
		} else {
			err = msg.Nak()
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStaleDelivery, err)
		}
		return nil
	}
	reason := "rejected"
	if requeue {
		reason = "max-deliveries"
	}
	if err := s.b.deadLetter(s.b.ctx, &s.opts, m, reason); err != nil {
		_ = msg.Nak()
		return err
	}
	if err := msg.Term(); err != nil {
		return fmt.Errorf("%w: %w", ErrStaleDelivery, err)
	}
	return nil
}
