package redisx

import (
	"context"
	"errors"
	"iter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-go/switchboard/pubsub"
)

// view is what one MULTI read of the stream sees: its newest entry (head;
// empty when there is none), whether the entry at a cursor still exists
// and its count, and a page of entries.
type view struct {
	head  uint64
	empty bool
	found bool   // the cursor's entry exists
	n     uint64 // its entry count (0: unknown)
	page  []redis.XMessage
}

// look reads, in one MULTI, the stream's newest entry, the entry at
// cursor seq since (if hasSince) and up to readCount entries from start
// (XRANGE syntax, "(" excludes; "" reads no page).
//
// Cursor seq 0 (the head of an empty stream, "<epoch>-0") stands before
// the namespace's first entry: it is found while the oldest entry kept is
// the first ever published (count 1), or the stream is still empty.
func (b *Broker) look(ctx context.Context, since uint64, hasSince bool, start string) (view, error) {
	var at, head, page *redis.XMessageSliceCmd
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if hasSince && since == 0 {
			at = p.XRangeN(ctx, b.keyLog, "-", "+", 1)
		} else if hasSince {
			id := SeqToID(since)
			at = p.XRange(ctx, b.keyLog, id, id)
		}
		head = p.XRevRangeN(ctx, b.keyLog, "+", "-", 1)
		if start != "" {
			page = p.XRangeN(ctx, b.keyLog, start, "+", readCount)
		}
		return nil
	})
	if err != nil {
		return view{}, b.closedErr(err)
	}
	var v view
	h := head.Val()
	if len(h) == 0 {
		v.empty = true
		v.found = hasSince && since == 0
		return v, nil
	}
	if v.head, err = IDToSeq(h[0].ID); err != nil {
		return view{}, err
	}
	switch {
	case at == nil:
	case hasSince && since == 0:
		// The page starts at the oldest entry; scan checks the counts
		// after it from this one.
		v.found = len(at.Val()) == 1 && entryCount(at.Val()[0].Values) == 1
	case len(at.Val()) == 1:
		v.found = true
		v.n = entryCount(at.Val()[0].Values)
	}
	if page != nil {
		v.page = page.Val()
	}
	return v, nil
}

// scan yields the entries of the stream from page on, up to head, reading
// further pages as needed. Entry counts must follow each other from n (0:
// unknown): a jump means entries were trimmed between two reads, and
// scan stops with ErrTrimmed. It stops at the first error, which it
// returns through errp.
func (b *Broker) scan(ctx context.Context, page []redis.XMessage, head, n uint64, errp *error) iter.Seq2[uint64, redis.XMessage] {
	return func(yield func(uint64, redis.XMessage) bool) {
		for {
			var last uint64
			for _, x := range page {
				seq, err := IDToSeq(x.ID)
				if err != nil {
					*errp = err
					return
				}
				if seq > head {
					return
				}
				if c := entryCount(x.Values); c != 0 {
					if n != 0 && c != n+1 {
						*errp = ErrTrimmed
						return
					}
					n = c
				}
				last = seq
				if !yield(seq, x) {
					return
				}
			}
			if len(page) < readCount || last >= head {
				return
			}
			var err error
			if page, err = b.rdb.XRangeN(ctx, b.keyLog, "("+SeqToID(last), SeqToID(head), readCount).Result(); err != nil {
				*errp = err
				return
			}
		}
	}
}

// History reads the stream: the messages matching filter after
// opts.Since, oldest first, up to the newest entry at the time of the
// read (Head). The newest entry, the entry at Since and the first page
// come from one MULTI; Since's entry is gone (trimmed), from another epoch
// or from beyond the head is a gap, and the page then starts at the oldest
// entry kept. A later page that finds the stream trimmed past what was
// read fails with ErrTrimmed. Filters are matched on this node, so a read for
// a rare topic scans the whole stream after Since.
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
	limit := opts.Limit
	if limit == 0 {
		limit = 100
	}
	if err := b.begin(); err != nil {
		return pubsub.HistoryPage{}, err
	}
	defer b.inflight.Done()
	epoch := b.Epoch()
	var p pubsub.HistoryPage
	resume := opts.Since != "" && since.Epoch == epoch
	p.Gap = opts.Since != "" && !resume
	start := "-"
	if resume {
		start = "(" + SeqToID(since.Seq)
	}
	if limit < 0 {
		start = "" // the head (and Gap) only
	}
	v, err := b.look(ctx, since.Seq, resume, start)
	if err != nil {
		return pubsub.HistoryPage{}, err
	}
	if v.empty {
		// Cursor 0 stands before the first entry: resuming from it reads
		// whatever is published after this read.
		p.Gap = p.Gap || (opts.Since != "" && !v.found)
		p.Head = pubsub.Cursor{Epoch: epoch, Seq: 0}.String()
		p.Next = p.Head
		return p, nil
	}
	n := v.n
	if resume && (!v.found || since.Seq > v.head) {
		p.Gap = true // trimmed past Since, or a cursor from the future
		n = 0
		if limit < 0 {
			start = ""
		} else {
			start = "-"
		}
		if v, err = b.look(ctx, 0, false, start); err != nil {
			return pubsub.HistoryPage{}, err
		}
	}
	p.Head = pubsub.Cursor{Epoch: epoch, Seq: v.head}.String()
	p.Next = p.Head
	if limit < 0 {
		return p, nil
	}
	var serr error
	for _, x := range b.scan(ctx, v.page, v.head, n, &serr) {
		m, err := decodeEntry(epoch, x.ID, x.Values)
		if err != nil || !f.Match(m.Topic) || b.ids.Copy(m) {
			continue
		}
		if len(p.Messages) == limit {
			p.More = true
			p.Next = p.Messages[limit-1].Cursor
			break
		}
		p.Messages = append(p.Messages, m)
	}
	if serr != nil {
		return pubsub.HistoryPage{}, b.closedErr(serr)
	}
	return p, nil
}

// replayStall is how long a replay waits for a subscriber with a full
// buffer before ending it as a slow consumer.
const replayStall = 5 * time.Second

// subscribeSince starts plain subscription s, replaying the stream after
// since, then live with no gap and no duplicate. s joins the fan-out first
// (holding live messages back); then one MULTI reads the stream's newest
// entry (the head), the entry at since and the first page after it. The
// replay goes up to the head; the held live messages after it follow. A
// cursor whose entry was trimmed, from another epoch or from beyond the
// head is a gap: delivery starts live.
func (b *Broker) subscribeSince(ctx context.Context, s *liveSub, since pubsub.Cursor) (pubsub.Subscription, error) {
	if since.Epoch != b.Epoch() {
		s.SetGap(true)
		return b.subscribeLive(ctx, s, false)
	}
	if err := b.join(s); err != nil {
		return nil, err
	}
	v, err := b.look(ctx, since.Seq, true, "("+SeqToID(since.Seq))
	if err != nil {
		return nil, b.abort(s, err)
	}
	s.SetGap(!v.found || since.Seq > v.head)
	var backlog iter.Seq[*pubsub.Message]
	if !s.Gap() {
		backlog = b.backlog(s, v)
	}
	b.startReplay(s, backlog, v.head)
	s.Watch(ctx)
	return s, nil
}

// join holds s's live messages back and attaches it to the fan-out; the
// caller then reads the head and calls startReplay (or abort).
func (b *Broker) join(s *liveSub) error {
	s.Hold()
	if !b.fan.Add(s) {
		s.End(pubsub.ErrClosed)
		s.Replay(nil, nil, 0)
		return pubsub.ErrClosed
	}
	return nil
}

// abort ends a joined subscription that could not start.
func (b *Broker) abort(s *liveSub, err error) error {
	err = b.closedErr(err)
	s.Stop(err)
	s.Replay(nil, nil, 0)
	return err
}

// backlog yields the messages of the stream from v's page up to v.head
// that match s. A read error ends s.
func (b *Broker) backlog(s *liveSub, v view) iter.Seq[*pubsub.Message] {
	return func(yield func(*pubsub.Message) bool) {
		ctx, cancel := context.WithCancel(b.ctx)
		defer cancel()
		stop := context.AfterFunc(ctxOf(s.Done()), cancel)
		defer stop()
		epoch := b.Epoch()
		var err error
		for _, x := range b.scan(ctx, v.page, v.head, v.n, &err) {
			m, derr := decodeEntry(epoch, x.ID, x.Values)
			if derr != nil || !s.Match(m.Topic) || b.ids.Copy(m) {
				continue
			}
			if !yield(m) {
				return
			}
		}
		if err != nil {
			if errors.Is(err, ErrTrimmed) {
				b.log.Warn("redisx: the stream was trimmed during a replay")
			}
			s.Stop(b.closedErr(err))
		}
	}
}

// startReplay runs s's replay of backlog; held live messages at or before
// head are dropped (the backlog, or the Subscribe call, covers them).
// Without a backlog it runs at once: the held messages fit in C, which is
// empty, so nothing waits, and the feed is live before Subscribe returns.
// With one it runs on a goroutine Close waits for.
func (b *Broker) startReplay(s *liveSub, backlog iter.Seq[*pubsub.Message], head uint64) {
	s.from.Store(head)
	covered := func(m *pubsub.Message) bool {
		c, err := pubsub.ParseCursor(m.Cursor)
		return err == nil && c.Seq <= head
	}
	if backlog == nil {
		if s.Replay(nil, covered, 0) {
			b.fan.Remove(s)
		}
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if s.Replay(backlog, covered, replayStall) {
			b.fan.Remove(s)
		}
	}()
}

// ctxOf returns a context done when done is closed.
func ctxOf(done <-chan struct{}) context.Context { return doneCtx(done) }

type doneCtx <-chan struct{}

func (d doneCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (d doneCtx) Done() <-chan struct{}       { return d }
func (d doneCtx) Value(any) any               { return nil }
func (d doneCtx) Err() error {
	select {
	case <-d:
		return context.Canceled
	default:
		return nil
	}
}
