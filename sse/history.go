package sse

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Catch-up bounds for a resume with several filters.
const (
	catchUpPage = 256    // messages per history read
	catchUpMax  = 10_000 // beyond this, the subscriptions replay the rest
)

// catchUp reads, for a resume with several filters, the history after
// since merged across the filters in cursor order. Subscribing each filter
// from the cursor instead would replay each filter on its own, and a
// backlog larger than a subscription's buffer would then arrive out of
// order across filters. It returns the messages and the cursor up to which
// they are complete, from which the subscriptions then start; gap reports
// that history does not reach back to since.
func (h *Handler) catchUp(ctx context.Context, filters []string, since string) ([]*pubsub.Message, string, bool, error) {
	var out []*pubsub.Message
	for len(out) < catchUpMax {
		msgs, next, gap, more, err := h.readMerged(ctx, filters, since, catchUpPage)
		if err != nil || gap {
			return nil, since, gap, err
		}
		out = append(out, msgs...)
		since = next
		if !more {
			break
		}
	}
	return out, since, false, nil
}

// readMerged returns the messages after since matching any of filters,
// oldest first and each once, at most limit, and the cursor up to which
// the answer is complete. Each filter's page ends at its own Next (the
// head when it was not cut, which grows between reads), so only messages
// up to the smallest Next are kept.
func (h *Handler) readMerged(ctx context.Context, filters []string, since string, limit int) (msgs []*pubsub.Message, next string, gap, more bool, err error) {
	var nc pubsub.Cursor
	var all []*pubsub.Message
	for i, f := range filters {
		p, err := h.hr.History(ctx, f, pubsub.HistoryOptions{Since: since, Limit: limit})
		if err != nil {
			return nil, "", false, false, err
		}
		if p.Gap {
			return nil, "", true, false, nil
		}
		c, err := pubsub.ParseCursor(p.Next)
		if err != nil {
			return nil, "", false, false, fmt.Errorf("%w: several filters need the broker's ordered cursors: %v", pubsub.ErrNotSupported, err)
		}
		if i == 0 || c.Seq < nc.Seq {
			nc = c
		}
		more = more || p.More
		all = append(all, p.Messages...)
	}
	seen := make(map[uint64]bool, len(all))
	for _, m := range all {
		c, err := pubsub.ParseCursor(m.Cursor)
		if err != nil || c.Epoch != nc.Epoch || c.Seq > nc.Seq || seen[c.Seq] {
			continue
		}
		seen[c.Seq] = true
		msgs = append(msgs, m)
	}
	slices.SortFunc(msgs, func(a, b *pubsub.Message) int {
		ca, _ := pubsub.ParseCursor(a.Cursor)
		cb, _ := pubsub.ParseCursor(b.Cursor)
		return cmp.Compare(ca.Seq, cb.Seq)
	})
	next = nc.String()
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = msgs[limit-1].Cursor
		more = true
	}
	return msgs, next, false, more, nil
}
