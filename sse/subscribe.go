package sse

import (
	"context"
	"errors"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Reasons carried by the sb-reset event.
const (
	resetGap       = "gap"            // history no longer reaches the cursor (or another epoch)
	resetInvalid   = "invalid-cursor" // the Last-Event-ID is not a cursor of this broker
	resetNoHistory = "no-history"     // the broker keeps no history: resuming is impossible
)

// start is what the stream announces before the first message.
type start struct {
	reset  string // "" or a reset reason
	fresh  bool   // no resume position: announce the head as sb-open
	head   string // cursor of the newest message when the stream started
	resume string // the cursor resumed from (no reset)
}

// subscribe opens one subscription for all the filters (pubsub.SubscribeAll:
// each message once, in cursor order, on brokers that support it), resuming
// from req.lastID when it can. Every failure to resume becomes a reset,
// never an error; the error is for a broker that refuses the subscription
// itself.
func (h *Handler) subscribe(ctx context.Context, req request) (pubsub.Subscription, start, error) {
	var st start
	since := ""
	switch {
	case !req.resume:
		st.fresh = true
	case h.hr == nil:
		st.reset = resetNoHistory
	case req.lastID == "":
		st.reset = resetInvalid
	default:
		since = req.lastID
	}
	sub, err := pubsub.SubscribeAll(ctx, h.b, req.filters, &pubsub.SubscribeOptions{Since: since, Buffer: h.o.Buffer})
	if err != nil && since != "" && (errors.Is(err, pubsub.ErrInvalidCursor) || errors.Is(err, pubsub.ErrNotSupported)) {
		st.reset = resetInvalid
		sub, err = pubsub.SubscribeAll(ctx, h.b, req.filters, &pubsub.SubscribeOptions{Buffer: h.o.Buffer})
	}
	if err != nil {
		return nil, st, err
	}
	if sub.Gap() && st.reset == "" {
		st.reset = resetGap
	}
	if st.reset == "" && !st.fresh {
		st.resume = req.lastID
		return sub, st, nil
	}
	// Read the head after subscribing, so that a client that reconnects
	// before its first message resumes from a position no later than what
	// its subscription delivered: messages published between the two
	// calls arrive live with their own (smaller) ids, in order.
	if head, err := pubsub.Head(ctx, h.b); err == nil {
		st.head = head
	} else {
		h.log.Debug("sse: cannot read the history head", "err", err)
	}
	return sub, st, nil
}
