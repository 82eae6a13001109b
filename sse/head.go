package sse

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/switchboard-go/switchboard/pubsub"
)

// headHint remembers the newest head cursor a handler has read. A history
// read from it scans only what was published since, instead of the whole
// log (the memory broker scans under its lock), so reading the head stays
// cheap when many clients connect at once.
type headHint struct{ p atomic.Pointer[string] }

// head returns the cursor of the newest message in the broker.
func (hh *headHint) head(ctx context.Context, hr pubsub.HistoryReader, filter string) (string, error) {
	since := ""
	if p := hh.p.Load(); p != nil {
		since = *p
	}
	page, err := hr.History(ctx, filter, pubsub.HistoryOptions{Since: since, Limit: 1})
	if err != nil && since != "" && errors.Is(err, pubsub.ErrInvalidCursor) {
		page, err = hr.History(ctx, filter, pubsub.HistoryOptions{Limit: 1})
	}
	if err != nil {
		return "", err
	}
	if page.Head != "" {
		hh.p.Store(&page.Head)
	}
	return page.Head, nil
}
