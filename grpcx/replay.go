package grpcx

import (
	"context"

	"github.com/switchboard-go/switchboard/pubsub"
)

// replay resumes a Subscribe call with several filters from history, in
// cursor order, up to the head it read after the live subscriptions
// started. The broker would replay each filter on its own, and replays too
// big for a subscription's buffer run concurrently, so their interleaving
// could put a later message before an earlier one; a client that then
// resumed from the cursor it saw last would lose the earlier one.
type replay struct {
	hr    pubsub.HistoryReader
	since string
	head  pubsub.Cursor // the end of the replay; live messages up to it are skipped
	its   []*historyIter
}

// historyIter pages through the history of one filter.
type historyIter struct {
	filter string
	next   string // Since of the next page
	buf    []*pubsub.Message
	more   bool
}

// replayPage is the page size of the history reads.
const replayPage = 100

// newReplay reads the head and the first page of every filter. gap is
// true when history does not reach back to since.
func newReplay(ctx context.Context, hr pubsub.HistoryReader, filters []string, since string) (rp *replay, gap bool, err error) {
	p, err := hr.History(ctx, filters[0], pubsub.HistoryOptions{Since: since, Limit: replayPage})
	if err != nil {
		return nil, false, err
	}
	head, err := pubsub.ParseCursor(p.Head)
	if err != nil {
		return nil, false, err
	}
	rp = &replay{hr: hr, since: since, head: head}
	for i, f := range filters {
		if i > 0 {
			if p, err = hr.History(ctx, f, pubsub.HistoryOptions{Since: since, Limit: replayPage}); err != nil {
				return nil, false, err
			}
		}
		if p.Gap {
			return rp, true, nil
		}
		rp.its = append(rp.its, &historyIter{filter: f, next: p.Next, buf: p.Messages, more: p.More})
	}
	return rp, false, nil
}

// peek returns the iterator's next message up to the head, or nil.
func (rp *replay) peek(ctx context.Context, it *historyIter) (*pubsub.Message, pubsub.Cursor, error) {
	for len(it.buf) == 0 && it.more {
		p, err := rp.hr.History(ctx, it.filter, pubsub.HistoryOptions{Since: it.next, Limit: replayPage})
		if err != nil {
			return nil, pubsub.Cursor{}, err
		}
		it.buf, it.next, it.more = p.Messages, p.Next, p.More
	}
	if len(it.buf) == 0 {
		return nil, pubsub.Cursor{}, nil
	}
	c, err := pubsub.ParseCursor(it.buf[0].Cursor)
	if err != nil || c.Epoch != rp.head.Epoch || c.Seq > rp.head.Seq {
		it.buf, it.more = nil, false // beyond the head: the live subscriptions have it
		return nil, pubsub.Cursor{}, nil
	}
	return it.buf[0], c, nil
}

// run sends every message after since up to the head, in cursor order and
// once each, merging the filters' histories.
func (rp *replay) run(ctx context.Context, send func(*pubsub.Message) error) error {
	for {
		var min *pubsub.Message
		var minC pubsub.Cursor
		for _, it := range rp.its {
			m, c, err := rp.peek(ctx, it)
			if err != nil {
				return err
			}
			if m != nil && (min == nil || c.Seq < minC.Seq) {
				min, minC = m, c
			}
		}
		if min == nil {
			return nil
		}
		for _, it := range rp.its { // drop the copies other filters matched
			if len(it.buf) > 0 && it.buf[0].Cursor == min.Cursor {
				it.buf = it.buf[1:]
			}
		}
		if err := send(min); err != nil {
			return err
		}
	}
}
