package grpcx

import (
	"cmp"
	"context"
	"errors"
	"reflect"
	"slices"

	"github.com/switchboard-go/switchboard/pubsub"
)

// merger reads the subscriptions of one Subscribe call as one stream in
// cursor order, so that a client resuming from the last cursor it received
// loses nothing.
//
// With one subscription that is the broker's order. With several, a
// message must not go out before an earlier message of another filter
// that has not been read yet. The rule used: a broker hands each message
// to all its subscriptions before the next one, so once a message with
// sequence M has been read from any channel, every earlier message is
// already in its channel. Each round therefore drains every channel, notes
// the highest sequence M, drains them all again, and sends what it holds up
// to M; later messages wait for the next round. Messages without a cursor
// (a broker without history) go out in arrival order.
type merger struct {
	subs  []pubsub.Subscription
	cases []reflect.SelectCase // subscriptions, then ctx.Done and closing

	held  []heldMsg // read, not yet sent; sorted by seq before sending
	out   []*pubsub.Message
	epoch string
	plain bool // a message without a cursor was seen: arrival order

	// skip drops messages up to this cursor: a replay delivered them.
	skip pubsub.Cursor

	// Recently sent keys (cursor, or id without one), to drop the copies
	// overlapping filters deliver.
	recent [64]string
	nrec   int
}

type heldMsg struct {
	m   *pubsub.Message
	seq uint64
}

func newMerger(subs []pubsub.Subscription) *merger {
	return &merger{subs: subs}
}

// maxCollect bounds what one drain takes from one subscription.
const maxCollect = 256

// next waits for messages and returns those safe to send, in order and
// without duplicates. ended >= 0 names a subscription whose channel closed
// (its error says why); everything that can be sent before the stream ends
// is then in the batch. err is set when ctx is done or closing is closed.
func (g *merger) next(ctx context.Context, closing <-chan struct{}) (batch []*pubsub.Message, ended int, err error) {
	g.out = g.out[:0]
	if len(g.subs) == 1 {
		select {
		case m, ok := <-g.subs[0].C():
			if !ok {
				return nil, 0, nil
			}
			g.out = append(g.out, m)
			return g.out, -1, nil
		case <-ctx.Done():
			return nil, -1, ctx.Err()
		case <-closing:
			return nil, -1, errShuttingDown
		}
	}
	n := len(g.subs)
	if g.cases == nil {
		g.cases = make([]reflect.SelectCase, n+2)
		for i, s := range g.subs {
			g.cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.C())}
		}
		g.cases[n] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}
		g.cases[n+1] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(closing)}
	}
	ended = -1
	if len(g.held) == 0 {
		i, v, ok := reflect.Select(g.cases)
		switch {
		case i == n:
			return nil, -1, ctx.Err()
		case i == n+1:
			return nil, -1, errShuttingDown
		case ok:
			g.hold(v.Interface().(*pubsub.Message))
		default:
			ended = i
		}
	}
	ended, _ = g.drain(ended)
	var limit uint64
	for _, h := range g.held {
		limit = max(limit, h.seq)
	}
	ended2, capped := g.drain(ended)
	if ended < 0 && ended2 >= 0 {
		ended = ended2
		_, capped = g.drain(ended) // everything before the closed channel's last message
	}
	// A channel left non-empty (maxCollect) still holds messages after the
	// last one read from it, possibly before limit.
	limit = min(limit, capped)
	if ended >= 0 {
		var sc *pubsub.SlowConsumerError
		if errors.As(g.subs[ended].Err(), &sc) {
			// The overflowed subscription missed what came after its
			// last cursor: nothing later may go out before the client
			// resumes from there.
			if c, err := pubsub.ParseCursor(sc.LastCursor); err == nil && c.Epoch == g.epoch {
				limit = min(limit, c.Seq)
			}
		}
	}
	slices.SortStableFunc(g.held, func(a, b heldMsg) int { return cmp.Compare(a.seq, b.seq) })
	cut := len(g.held)
	if !g.plain {
		cut, _ = slices.BinarySearchFunc(g.held, limit+1, func(h heldMsg, s uint64) int { return cmp.Compare(h.seq, s) })
	}
	for _, h := range g.held[:cut] {
		if g.keep(h.m) {
			g.out = append(g.out, h.m)
		}
	}
	rest := copy(g.held, g.held[cut:])
	clear(g.held[rest:])
	g.held = g.held[:rest]
	if ended >= 0 {
		g.held = nil // not sent: the client resumes before them
	}
	return g.out, ended, nil
}

// hold records a message read from a channel.
func (g *merger) hold(m *pubsub.Message) {
	c, err := pubsub.ParseCursor(m.Cursor)
	if err != nil || (g.epoch != "" && c.Epoch != g.epoch) {
		g.plain = true
	}
	if g.epoch == "" && err == nil {
		g.epoch = c.Epoch
	}
	g.held = append(g.held, heldMsg{m: m, seq: c.Seq})
}

// drain takes what waits on every channel without blocking and returns the
// first subscription found closed (or ended, if already set) and the lowest
// sequence after which a channel it left non-empty (at maxCollect) may hold
// more (the maximum uint64 when it emptied them all).
func (g *merger) drain(ended int) (int, uint64) {
	capped := ^uint64(0)
	for j, s := range g.subs {
		if j == ended {
			continue
		}
		k := 0
	loop:
		for ; k < maxCollect; k++ {
			select {
			case m, ok := <-s.C():
				if !ok {
					if ended < 0 {
						ended = j
					}
					break loop
				}
				g.hold(m)
			default:
				break loop
			}
		}
		if k == maxCollect {
			capped = min(capped, g.held[len(g.held)-1].seq)
		}
	}
	return ended, capped
}

// keep reports whether m goes out: not a copy of a message just sent, and
// not one a replay already delivered.
func (g *merger) keep(m *pubsub.Message) bool {
	if g.skip.Epoch != "" {
		if c, err := pubsub.ParseCursor(m.Cursor); err == nil && c.Epoch == g.skip.Epoch && c.Seq <= g.skip.Seq {
			return false
		}
	}
	key := m.Cursor
	if key == "" {
		key = m.ID
	}
	if key == "" {
		return true
	}
	for i := 0; i < min(g.nrec, len(g.recent)); i++ {
		if g.recent[i] == key {
			return false
		}
	}
	g.recent[g.nrec%len(g.recent)] = key
	g.nrec++
	return true
}

// pending reports whether a message waits to be sent or read.
func (g *merger) pending() bool {
	if len(g.held) > 0 {
		return true
	}
	for _, s := range g.subs {
		if len(s.C()) > 0 {
			return true
		}
	}
	return false
}
