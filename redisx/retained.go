package redisx

import (
	"context"
	"errors"
	"iter"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-go/switchboard/pubsub"
)

type retainedMsg struct {
	m   *pubsub.Message
	seq uint64
}

// subscribeLive starts plain subscription s live from now: s joins the
// fan-out (holding live messages back), then reads the stream's newest
// entry; entries up to it are not delivered. With retained, s starts with
// the retained messages matching its filters: s joins the fan-out (holding live
// messages back), one MULTI reads the retained hash (HMGET for exact
// filters, HGETALL when a filter has a wildcard: matched on this node) and
// the stream's newest entry, and the retained messages go first, in the
// order they were published, then the live ones after that entry.
func (b *Broker) subscribeLive(ctx context.Context, s *liveSub, retained bool) (pubsub.Subscription, error) {
	if err := b.join(s); err != nil {
		return nil, err
	}
	if !retained {
		last, err := b.newest(ctx)
		if err != nil {
			return nil, b.abort(s, err)
		}
		head, _ := IDToSeq(last)
		b.startReplay(s, nil, head)
		s.Watch(ctx)
		return s, nil
	}
	var exact []string
	wild := false
	for _, f := range s.Filters() {
		if f.Wildcard() {
			wild = true
		}
		exact = append(exact, f.String())
	}
	var all *redis.MapStringStringCmd
	var some *redis.SliceCmd
	var head *redis.XMessageSliceCmd
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if wild {
			all = p.HGetAll(ctx, b.keyRetained)
		} else {
			some = p.HMGet(ctx, b.keyRetained, exact...)
		}
		head = p.XRevRangeN(ctx, b.keyLog, "+", "-", 1)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, b.abort(s, err)
	}
	var got []retainedMsg
	add := func(topic, v string) {
		if !s.Match(topic) {
			return
		}
		m, seq, err := decodeRetained(topic, v)
		if err != nil {
			b.log.Warn("redisx: skipping a retained value", "topic", topic, "err", err)
			return
		}
		got = append(got, retainedMsg{m, seq})
	}
	if wild {
		for topic, v := range all.Val() {
			add(topic, v)
		}
	} else {
		for i, v := range some.Val() {
			if v, ok := v.(string); ok {
				add(exact[i], v)
			}
		}
	}
	slices.SortFunc(got, func(a, b retainedMsg) int { return compare(a.seq, b.seq) })
	var headSeq uint64
	if h := head.Val(); len(h) > 0 {
		headSeq, _ = IDToSeq(h[0].ID)
	}
	var backlog iter.Seq[*pubsub.Message]
	if len(got) > 0 {
		backlog = func(yield func(*pubsub.Message) bool) {
			for _, r := range got {
				if !yield(r.m) {
					return
				}
			}
		}
	}
	b.startReplay(s, backlog, headSeq)
	s.Watch(ctx)
	return s, nil
}

func compare(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
