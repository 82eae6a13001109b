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
	// backlog is the history a multi-filter resume read before
	// subscribing, to be sent first.
	backlog []*pubsub.Message
}

// subscribe opens one subscription per filter, resuming from req.lastID
// when it can. Every failure to resume becomes a reset, never an error; the
// error is for a broker that refuses the subscription itself.
func (h *Handler) subscribe(ctx context.Context, req request) ([]pubsub.Subscription, start, error) {
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
	if since != "" && len(req.filters) > 1 {
		backlog, next, gap, err := h.catchUp(ctx, req.filters, since)
		switch {
		case errors.Is(err, pubsub.ErrInvalidCursor), errors.Is(err, pubsub.ErrNotSupported):
			st.reset, since = resetInvalid, ""
		case err != nil:
			return nil, st, err
		case gap:
			st.reset, since = resetGap, ""
		default:
			st.backlog, since = backlog, next
		}
	}
	opts := &pubsub.SubscribeOptions{Since: since, Buffer: h.o.Buffer}
	subs := make([]pubsub.Subscription, 0, len(req.filters))
	closeAll := func() {
		for _, s := range subs {
			_ = s.Close()
		}
		subs = subs[:0]
	}
	for i := 0; i < len(req.filters); i++ {
		s, err := h.b.Subscribe(ctx, req.filters[i], opts)
		if err != nil {
			if opts.Since != "" && (errors.Is(err, pubsub.ErrInvalidCursor) || errors.Is(err, pubsub.ErrNotSupported)) {
				closeAll()
				st.reset = resetInvalid
				opts = &pubsub.SubscribeOptions{Buffer: h.o.Buffer}
				i = -1
				continue
			}
			closeAll()
			return nil, st, err
		}
		if s.Gap() && st.reset == "" {
			st.reset = resetGap
		}
		subs = append(subs, s)
	}
	if st.reset == "" && !st.fresh {
		st.resume = req.lastID
		return subs, st, nil
	}
	st.backlog = nil
	// Read the head after subscribing, so that a client that reconnects
	// before its first message resumes from a position no later than what
	// its subscriptions delivered: messages published between the two
	// calls arrive live with their own (smaller) ids, in order.
	if h.hr != nil {
		if head, err := h.hint.head(ctx, h.hr, req.filters[0]); err == nil {
			st.head = head
		} else {
			h.log.Debug("sse: cannot read the history head", "err", err)
		}
	}
	return subs, st, nil
}
