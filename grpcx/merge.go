package grpcx

import (
	"context"
	"reflect"
	"slices"

	"github.com/switchboard-go/switchboard/pubsub"
)

// merger reads the subscriptions of one Subscribe call as one stream.
type merger struct {
	subs  []pubsub.Subscription
	cases []reflect.SelectCase // subscriptions, then ctx.Done and closing
	batch []*pubsub.Message
	keys  []uint64

	// Recently sent cursors (ids without history), to drop the copies
	// overlapping filters deliver.
	recent [64]string
	nrec   int
}

func newMerger(subs []pubsub.Subscription) *merger {
	return &merger{subs: subs}
}

// maxCollect bounds one batch of a multi-filter stream.
const maxCollect = 256

// next waits for messages. It returns them in cursor order with duplicates
// removed, ended >= 0 when that subscription's channel closed (after the
// messages it still held), or err when ctx is done or closing is closed.
func (g *merger) next(ctx context.Context, closing <-chan struct{}) (batch []*pubsub.Message, ended int, err error) {
	g.batch = g.batch[:0]
	if len(g.subs) == 1 {
		select {
		case m, ok := <-g.subs[0].C():
			if !ok {
				return nil, 0, nil
			}
			g.batch = append(g.batch, m)
			return g.batch, -1, nil
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
	i, v, ok := reflect.Select(g.cases)
	switch {
	case i == n:
		return nil, -1, ctx.Err()
	case i == n+1:
		return nil, -1, errShuttingDown
	}
	ended = -1
	if ok {
		g.batch = append(g.batch, v.Interface().(*pubsub.Message))
	} else {
		ended = i
	}
	// Take what already waits on every subscription: the broker hands a
	// message to all its subscriptions before the next one, so sorting
	// what was taken restores the publish order across filters.
	for j, s := range g.subs {
		if j == ended {
			continue
		}
	drain:
		for len(g.batch) < maxCollect {
			select {
			case m, ok := <-s.C():
				if !ok {
					if ended < 0 {
						ended = j
					}
					break drain
				}
				g.batch = append(g.batch, m)
			default:
				break drain
			}
		}
	}
	g.sort()
	out := g.batch[:0]
	for _, m := range g.batch {
		key := m.Cursor
		if key == "" {
			key = m.ID
		}
		if key != "" && g.seen(key) {
			continue
		}
		out = append(out, m)
	}
	g.batch = out
	return out, ended, nil
}

// pending reports whether a message already waits on a subscription.
func (g *merger) pending() bool {
	for _, s := range g.subs {
		if len(s.C()) > 0 {
			return true
		}
	}
	return false
}

// sort orders the batch by cursor sequence when every message has a cursor
// of one epoch; otherwise it keeps the arrival order.
func (g *merger) sort() {
	if len(g.batch) < 2 {
		return
	}
	g.keys = g.keys[:0]
	var epoch string
	for _, m := range g.batch {
		c, err := pubsub.ParseCursor(m.Cursor)
		if err != nil || (epoch != "" && c.Epoch != epoch) {
			return
		}
		epoch = c.Epoch
		g.keys = append(g.keys, c.Seq)
	}
	idx := make([]int, len(g.batch))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case g.keys[a] < g.keys[b]:
			return -1
		case g.keys[a] > g.keys[b]:
			return 1
		}
		return 0
	})
	sorted := make([]*pubsub.Message, len(idx))
	for i, j := range idx {
		sorted[i] = g.batch[j]
	}
	copy(g.batch, sorted)
}

// seen reports whether key was among the recently sent keys, and records it.
func (g *merger) seen(key string) bool {
	for i := 0; i < min(g.nrec, len(g.recent)); i++ {
		if g.recent[i] == key {
			return true
		}
	}
	g.recent[g.nrec%len(g.recent)] = key
	g.nrec++
	return false
}
