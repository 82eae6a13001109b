package redisx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-go/switchboard/internal/backoff"
	"github.com/switchboard-go/switchboard/internal/fanout"
	"github.com/switchboard-go/switchboard/pubsub"
)

// GroupName returns the Redis consumer group a subscription with
// SubscribeOptions.Group group on filter reads: "g:<group>:<filter>".
func GroupName(group, filter string) string { return "g:" + group + ":" + filter }

// groupSub is a subscription on a consumer group of the stream: a shared
// group (SubscribeOptions.Group), or a private one of its own (ManualAck
// without a group, deleted when the subscription ends). Each subscription
// is one consumer, with a goroutine that reads the group (XREADGROUP) when
// it has room, claims deliveries other consumers left stuck (XAUTOCLAIM)
// and dead-letters what was delivered too often. Deliveries go through the
// Feed, offered only when C has room: the Feed never overflows.
type groupSub struct {
	*pubsub.Feed
	b        *Broker
	filters  []pubsub.Filter
	opts     pubsub.SubscribeOptions
	group    string
	consumer string
	private  bool
	manual   bool
	wake     chan struct{} // an ack or nack made room

	mu       sync.Mutex
	inflight map[*pubsub.Message]string // unacknowledged deliveries → entry id
}

var _ pubsub.Subscription = (*groupSub)(nil)

// subscribeGroup creates the consumer group if it does not exist (reading
// from the stream's end: messages published before the group's first
// subscription are not kept for it) and starts the consumer.
func (b *Broker) subscribeGroup(ctx context.Context, fs []pubsub.Filter, o pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	s := &groupSub{Feed: pubsub.NewFeed(o.Buffer, pubsub.OverflowClose), b: b, filters: fs, opts: o,
		consumer: b.id + ":" + pubsub.NewID(), manual: o.ManualAck, wake: make(chan struct{}, 1),
		inflight: make(map[*pubsub.Message]string)}
	if o.Group != "" {
		s.group = GroupName(o.Group, fs[0].String())
	} else {
		s.group = "p:" + b.id + ":" + pubsub.NewID()
		s.private = true
	}
	err := b.rdb.XGroupCreateMkStream(ctx, b.keyLog, s.group, "$").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return nil, b.closedErr(err)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.destroy()
		return nil, pubsub.ErrClosed
	}
	b.gsubs[s] = struct{}{}
	b.gwg.Add(1)
	b.mu.Unlock()
	go s.run()
	s.Watch(ctx, s.end)
	return s, nil
}

func (s *groupSub) Gap() bool { return false }

func (s *groupSub) Close() error {
	s.end(pubsub.ErrClosed)
	return nil
}

// end ends the subscription; its goroutine notices within KeepAlive (at
// once when the Broker closes) and tidies up.
func (s *groupSub) end(err error) { s.End(err) }

// room returns how many messages may be read now.
func (s *groupSub) room() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	free := cap(s.C()) - len(s.C())
	if s.manual {
		free = min(free, s.opts.Prefetch-len(s.inflight))
	}
	return max(free, 0)
}

// deliver offers m (entry id) with its attempt number; there is room. It
// reports false when the subscription has ended: the entry stays pending
// for tidy to hand on.
func (s *groupSub) deliver(m *pubsub.Message, id string, attempt int) bool {
	m.Attempt = attempt
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.Done():
		return false
	default:
	}
	if s.manual {
		s.inflight[m] = id
	}
	s.Offer(m)
	select {
	case <-s.Done():
		// Ended meanwhile (End does not take s.mu), so m may not have
		// been delivered: leave the entry pending rather than ack it.
		delete(s.inflight, m)
		return false
	default:
		return true
	}
}

// run is the consumer's loop.
func (s *groupSub) run() {
	b := s.b
	defer b.gwg.Done()
	defer s.tidy()
	bo := backoff.Backoff{Min: b.opts.MinBackoff, Max: b.opts.MaxBackoff}
	fails, checked := 0, false
	var lastClaim time.Time
	for {
		select {
		case <-s.Done():
			return
		case <-b.ctx.Done():
			return
		default:
		}
		n := s.room()
		if n == 0 {
			s.waitRoom()
			continue
		}
		var err error
		if time.Since(lastClaim) >= b.opts.ClaimIdle/2 {
			lastClaim = time.Now()
			err = s.claim(n)
		}
		if err == nil {
			checked, err = s.readOnce(n, checked)
		}
		if err != nil {
			if b.ctx.Err() != nil {
				return
			}
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				s.end(fmt.Errorf("%w: consumer group %q is gone", ErrGroupLost, s.group))
				return
			}
			if errors.Is(err, ErrTrimmed) {
				s.end(err)
				return
			}
			fails++
			checked = false
			t := time.NewTimer(bo.Delay(fails))
			select {
			case <-t.C:
			case <-s.Done():
			case <-b.ctx.Done():
			}
			t.Stop()
			continue
		}
		fails = 0
	}
}

// waitRoom waits for an ack or nack (ManualAck) or for the consumer to
// drain C (polled: a channel has no signal for that).
func (s *groupSub) waitRoom() {
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-s.wake:
	case <-t.C:
	case <-s.Done():
	case <-s.b.ctx.Done():
	}
}

// readOnce reads up to n new entries. Unless checked (the previous read
// found the consumer caught up), it reads without blocking and checks in
// the same MULTI that the stream was not trimmed past the group's last
// delivered entry; then it blocks in XREADGROUP BLOCK (Redis serves a
// blocked reader right after the command that added an entry).
func (s *groupSub) readOnce(n int, checked bool) (bool, error) {
	b := s.b
	args := &redis.XReadGroupArgs{Group: s.group, Consumer: s.consumer, Streams: []string{b.keyLog, ">"}, Count: int64(n)}
	var res []redis.XStream
	var err error
	if checked {
		args.Block = min(b.opts.KeepAlive, b.opts.ClaimIdle/2) // wake up to claim
		res, err = b.grp.XReadGroup(b.ctx, args).Result()
	} else {
		args.Block = -1
		var groups *redis.XInfoGroupsCmd
		var first *redis.XMessageSliceCmd
		var xr *redis.XStreamSliceCmd
		_, err = b.grp.TxPipelined(b.ctx, func(p redis.Pipeliner) error {
			groups = p.XInfoGroups(b.ctx, b.keyLog)
			first = p.XRangeN(b.ctx, b.keyLog, "-", "+", 1)
			xr = p.XReadGroup(b.ctx, args)
			return nil
		})
		if err == nil || errors.Is(err, redis.Nil) {
			err = xr.Err()
			res = xr.Val()
			if gerr := s.checkTrim(groups.Val(), first.Val()); gerr != nil {
				return false, gerr
			}
		}
	}
	if errors.Is(err, redis.Nil) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var got int
	var acks []string
	epoch := b.Epoch()
	for _, st := range res {
		for _, x := range st.Messages {
			got++
			m, derr := decodeEntry(epoch, x.ID, x.Values)
			if derr != nil {
				b.log.Warn("redisx: dropped an entry that does not decode", "group", s.group, "id", x.ID, "err", derr)
			}
			if derr != nil || !fanout.MatchAny(s.filters, m.Topic) {
				acks = append(acks, x.ID)
				continue
			}
			if s.deliver(m, x.ID, 1) && !s.manual {
				acks = append(acks, x.ID)
			}
		}
	}
	if len(acks) > 0 {
		if err := b.rdb.XAck(b.ctx, b.keyLog, s.group, acks...).Err(); err != nil {
			return false, err
		}
	}
	return got < n, nil
}

// checkTrim reports ErrTrimmed when the oldest entry of the stream comes
// after the group's last delivered entry: entries the group never read may
// have been trimmed.
func (s *groupSub) checkTrim(groups []redis.XInfoGroup, first []redis.XMessage) error {
	if len(first) == 0 {
		return nil
	}
	for _, g := range groups {
		if g.Name == s.group && g.LastDeliveredID != "0-0" && after(first[0].ID, g.LastDeliveredID) {
			return fmt.Errorf("%w (consumer group %q, last delivered %s, oldest %s)", ErrTrimmed, s.group, g.LastDeliveredID, first[0].ID)
		}
	}
	return nil
}

// claim takes up to n deliveries that stayed unacknowledged for ClaimIdle
// (their consumer crashed or left) and delivers them again, or
// dead-letters those delivered MaxDeliveries times.
func (s *groupSub) claim(n int) error {
	b := s.b
	msgs, _, err := b.rdb.XAutoClaim(b.ctx, &redis.XAutoClaimArgs{Stream: b.keyLog, Group: s.group,
		Consumer: s.consumer, MinIdle: b.opts.ClaimIdle, Start: "0-0", Count: int64(n)}).Result()
	if err != nil || len(msgs) == 0 {
		return err
	}
	pend, err := b.rdb.XPendingExt(b.ctx, &redis.XPendingExtArgs{Stream: b.keyLog, Group: s.group,
		Start: msgs[0].ID, End: msgs[len(msgs)-1].ID, Count: int64(len(msgs)), Consumer: s.consumer}).Result()
	if err != nil {
		return err
	}
	counts := make(map[string]int, len(pend))
	for _, p := range pend {
		counts[p.ID] = int(p.RetryCount)
	}
	epoch := b.Epoch()
	for _, x := range msgs {
		m, derr := decodeEntry(epoch, x.ID, x.Values)
		if derr != nil {
			b.log.Warn("redisx: dropped an entry that does not decode", "group", s.group, "id", x.ID, "err", derr)
		}
		if derr != nil || !fanout.MatchAny(s.filters, m.Topic) {
			_ = b.rdb.XAck(b.ctx, b.keyLog, s.group, x.ID).Err()
			continue
		}
		attempt := max(counts[x.ID], 1)
		if max := s.opts.MaxDeliveries; max > 0 && attempt > max {
			if err := s.settleDead(m, x.ID, "delivered too often (MaxDeliveries)"); err != nil {
				return err
			}
			continue
		}
		if s.deliver(m, x.ID, attempt) && !s.manual {
			_ = b.rdb.XAck(b.ctx, b.keyLog, s.group, x.ID).Err()
		}
	}
	return nil
}

// settleDead publishes m to its dead-letter topic, then acknowledges it.
func (s *groupSub) settleDead(m *pubsub.Message, id, reason string) error {
	if err := s.b.deadLetter(s.b.ctx, &s.opts, m, reason); err != nil {
		return err
	}
	return s.b.closedErr(s.b.rdb.XAck(s.b.ctx, s.b.keyLog, s.group, id).Err())
}

// take removes m from the unacknowledged deliveries and returns its entry
// id.
func (s *groupSub) take(m *pubsub.Message) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.inflight[m]
	delete(s.inflight, m)
	return id, ok
}

func (s *groupSub) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Ack acknowledges m (XACK). Without ManualAck it does nothing.
func (s *groupSub) Ack(m *pubsub.Message) error {
	if !s.manual {
		return nil
	}
	id, ok := s.take(m)
	if !ok {
		return fmt.Errorf("%w: not an unacknowledged delivery of this subscription", ErrUnknownDelivery)
	}
	defer s.signal()
	return s.b.closedErr(s.b.rdb.XAck(s.b.ctx, s.b.keyLog, s.group, id).Err())
}

// Nack rejects m. With requeue, and while m.Attempt is below
// MaxDeliveries, the entry is claimed again (XCLAIM, which counts the
// delivery) and delivered to this subscription once more; otherwise it is
// published to its dead-letter topic and then acknowledged. Without
// ManualAck it does nothing.
func (s *groupSub) Nack(m *pubsub.Message, requeue bool) error {
	if !s.manual {
		return nil
	}
	id, ok := s.take(m)
	if !ok {
		return fmt.Errorf("%w: not an unacknowledged delivery of this subscription", ErrUnknownDelivery)
	}
	defer s.signal()
	b := s.b
	if !requeue {
		return s.settleDead(m, id, "rejected (nack without requeue)")
	}
	if max := s.opts.MaxDeliveries; max > 0 && m.Attempt >= max {
		return s.settleDead(m, id, fmt.Sprintf("delivered %d times (MaxDeliveries)", m.Attempt))
	}
	msgs, err := b.rdb.XClaim(b.ctx, &redis.XClaimArgs{Stream: b.keyLog, Group: s.group, Consumer: s.consumer,
		Messages: []string{id}}).Result()
	if err != nil {
		return b.closedErr(err)
	}
	for _, x := range msgs {
		again, err := decodeEntry(b.Epoch(), x.ID, x.Values)
		if err != nil {
			return err
		}
		s.deliver(again, x.ID, m.Attempt+1)
	}
	return nil
}

// tidy runs when the consumer's loop ends: a private group is destroyed;
// in a shared group the consumer's unacknowledged deliveries are marked
// idle for ClaimIdle, so the next XAUTOCLAIM of another member takes them,
// and a consumer with none is deleted.
func (s *groupSub) tidy() {
	b := s.b
	b.mu.Lock()
	delete(b.gsubs, s)
	b.mu.Unlock()
	s.End(pubsub.ErrClosed) // the loop ended first: the Broker is closing
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.private {
		s.destroy()
		return
	}
	pend, err := b.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: b.keyLog, Group: s.group,
		Start: "-", End: "+", Count: 10000, Consumer: s.consumer}).Result()
	if err != nil {
		return
	}
	if len(pend) == 0 {
		_ = b.rdb.XGroupDelConsumer(ctx, b.keyLog, s.group, s.consumer).Err()
		return
	}
	args := []any{"XCLAIM", b.keyLog, s.group, s.consumer, 0}
	for _, p := range pend {
		args = append(args, p.ID)
	}
	args = append(args, "IDLE", b.opts.ClaimIdle.Milliseconds(), "JUSTID")
	_ = b.rdb.Do(ctx, args...).Err()
}

// destroy deletes a private group.
func (s *groupSub) destroy() {
	if !s.private {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.b.rdb.XGroupDestroy(ctx, s.b.keyLog, s.group).Err()
}
