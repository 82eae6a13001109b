package longpoll

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-go/switchboard/internal/httpstream"
	"github.com/switchboard-go/switchboard/pubsub"
)

// result is one poll's answer.
type result struct {
	messages []*pubsub.Message
	cursor   string // where the next poll continues
	gap      bool   // messages may have been missed before these
	more     bool   // more are waiting: poll again at once
	history  bool   // false: the broker keeps no history (degraded mode)
	goaway   bool   // the handler is shutting down: poll again (elsewhere)
}

// poll answers one request: every message after the cursor at once, or
// the first ones to arrive within the timeout. A session told to go away
// is answered at once with its cursor.
func (h *Handler) poll(sess *httpstream.Session, req request) (result, error) {
	ctx := sess.Context()
	if h.hr == nil {
		return h.pollLive(sess, req)
	}
	res := result{history: true}
	since := req.cursor
	if len(since) > maxCursor {
		since, res.gap = "", true
	} else if since != "" {
		if _, err := pubsub.ParseCursor(since); err != nil {
			since, res.gap = "", true
		}
	}
	if since == "" {
		// Start from now: the head of the broker's history. After a
		// malformed cursor, answer at once with the head, so the client
		// learns of the gap before waiting.
		head, err := h.head(ctx)
		if err != nil || res.gap || head == "" {
			res.cursor = head
			return res, err
		}
		since = head
	}
	deadline := time.Now().Add(req.timeout)
	var sub pubsub.Subscription // wakes the poll; nil until the first wait
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
	}()
	for {
		r, err := h.read(ctx, req.filters, since, req.limit)
		if errors.Is(err, pubsub.ErrInvalidCursor) {
			// Not a cursor of this broker after all: a gap, from now.
			head, err := h.head(ctx)
			return result{history: true, gap: true, cursor: head}, err
		}
		if err != nil {
			return result{}, err
		}
		r.gap = r.gap || res.gap
		if len(r.messages) > 0 || r.gap || req.timeout <= 0 || !time.Now().Before(deadline) {
			return r, nil
		}
		since = r.cursor
		if sub == nil {
			// Subscribing from the cursor closes the race between the read
			// and the subscription: anything published after the read wakes
			// us. The messages themselves are read from history, in order.
			sub, err = pubsub.SubscribeAll(ctx, h.b, req.filters, &pubsub.SubscribeOptions{Since: since, Buffer: 1, NoRetained: true})
			if errors.Is(err, pubsub.ErrSlowConsumer) {
				// More arrived while it subscribed than its one-message
				// buffer holds (amqpx holds live messages back during a
				// replay): the poll was woken, read again.
				sub = nil
				continue
			}
			if err != nil {
				return result{}, err
			}
		}
		reason, ended := h.wait(sess, sub, deadline)
		if ended {
			_ = sub.Close() // overflowed: subscribe again from the new cursor
			sub = nil
		}
		switch reason {
		case timedOut, shutdown:
			return result{cursor: since, history: true, goaway: reason == shutdown}, nil
		case gone:
			return result{}, ctx.Err()
		}
	}
}

// head returns the cursor of the newest message in the broker.
func (h *Handler) head(ctx context.Context) (string, error) {
	return pubsub.Head(ctx, h.b)
}

type wakeReason int

const (
	woke wakeReason = iota
	timedOut
	shutdown
	gone
)

// wait blocks until the subscription delivers (or ends), the deadline
// passes, the session is told to go away or the client leaves; ended
// reports that the subscription ended. One goroutine: the caller's.
func (h *Handler) wait(sess *httpstream.Session, sub pubsub.Subscription, deadline time.Time) (wakeReason, bool) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-sub.C():
		return drainWake(sub)
	case <-t.C:
		return timedOut, false
	case <-sess.GoingAway():
		return shutdown, false
	case <-sess.Context().Done():
		return gone, false
	}
}

// drainWake empties the subscription's buffer (the messages themselves are
// read from history) and reports whether it ended: after an overflow the
// poll subscribes again; when the broker closed, it answers.
func drainWake(sub pubsub.Subscription) (wakeReason, bool) {
	for {
		select {
		case _, ok := <-sub.C():
			if !ok {
				if errors.Is(sub.Err(), pubsub.ErrClosed) {
					return shutdown, true
				}
				return woke, true
			}
		default:
			return woke, false
		}
	}
}

// read returns the messages after since matching any of filters, oldest
// first, at most limit, and the cursor to continue from.
func (h *Handler) read(ctx context.Context, filters []string, since string, limit int) (result, error) {
	res := result{history: true}
	if len(filters) == 1 {
		p, err := h.hr.History(ctx, filters[0], pubsub.HistoryOptions{Since: since, Limit: limit})
		if err != nil {
			return result{}, err
		}
		res.messages, res.cursor, res.gap, res.more = p.Messages, p.Next, p.Gap, p.More
		return res, nil
	}
	// Several filters: each page ends at its own Next (Head when it was
	// not cut, which grows between reads). Only messages up to the
	// smallest Next are complete across all filters; later ones come in
	// the next poll.
	var next pubsub.Cursor
	var msgs []*pubsub.Message
	for i, f := range filters {
		p, err := h.hr.History(ctx, f, pubsub.HistoryOptions{Since: since, Limit: limit})
		if err != nil {
			return result{}, err
		}
		c, err := pubsub.ParseCursor(p.Next)
		if err != nil {
			return result{}, fmt.Errorf("%w: several filters need the broker's ordered cursors: %v", pubsub.ErrNotSupported, err)
		}
		if i == 0 || c.Seq < next.Seq {
			next = c
		}
		res.gap = res.gap || p.Gap
		res.more = res.more || p.More
		msgs = append(msgs, p.Messages...)
	}
	seqs := make(map[uint64]bool, len(msgs))
	res.messages = make([]*pubsub.Message, 0, len(msgs))
	for _, m := range msgs {
		c, err := pubsub.ParseCursor(m.Cursor)
		if err != nil || c.Epoch != next.Epoch || c.Seq > next.Seq || seqs[c.Seq] {
			continue
		}
		seqs[c.Seq] = true
		res.messages = append(res.messages, m)
	}
	slices.SortFunc(res.messages, func(a, b *pubsub.Message) int {
		ca, _ := pubsub.ParseCursor(a.Cursor)
		cb, _ := pubsub.ParseCursor(b.Cursor)
		return cmp.Compare(ca.Seq, cb.Seq)
	})
	res.cursor = next.String()
	if len(res.messages) > limit {
		res.messages = res.messages[:limit]
		res.cursor = res.messages[limit-1].Cursor
		res.more = true
	}
	return res, nil
}

// pollLive is the degraded mode for brokers without history: the poll
// waits for live messages only, so messages published between two polls
// are missed. Responses say so with "history": false, and with "gap": true
// whenever the client sent a cursor.
func (h *Handler) pollLive(sess *httpstream.Session, req request) (result, error) {
	ctx := sess.Context()
	res := result{gap: req.cursor != ""}
	sub, err := pubsub.SubscribeAll(ctx, h.b, req.filters, &pubsub.SubscribeOptions{Buffer: req.limit, Overflow: pubsub.OverflowDropOldest, NoRetained: true})
	if err != nil {
		return result{}, err
	}
	defer func() { _ = sub.Close() }()
	if req.timeout <= 0 {
		return res, nil
	}
	t := time.NewTimer(req.timeout)
	defer t.Stop()
	c := sub.C()
	select {
	case m, ok := <-c:
		if !ok {
			return res, nil
		}
		res.messages = append(res.messages, m)
	case <-t.C:
		return res, nil
	case <-sess.GoingAway():
		res.goaway = true
		return res, nil
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
	for len(res.messages) < req.limit {
		select {
		case m, ok := <-c:
			if !ok {
				return res, nil
			}
			res.messages = append(res.messages, m)
		default:
			return res, nil
		}
	}
	return res, nil
}
