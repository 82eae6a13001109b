package graphqlsub

import (
	"github.com/switchboard-go/switchboard/transport"
)

// transportName names GraphQL operations to the Observer.
const transportName = "graphql"

// opObserver reports one subscription operation to Options.Observer. A
// nil *opObserver (no Observer, or not a subscription) reports nothing.
// Its methods are called by the operation's goroutine only.
type opObserver struct {
	h      *Handler
	reason transport.EndReason // from the last result's error code
	ended  bool
}

// observeOp starts reporting a subscription operation; nil when there is
// no Observer.
func (h *Handler) observeOp() *opObserver {
	if h.opts.Observer == nil {
		return nil
	}
	h.opts.Observer.OnSubStarted(transportName)
	return &opObserver{h: h}
}

// delivered reports a result written with n bytes. GraphQL results are
// the resolver's, not a broker message: the event's Message is nil.
func (o *opObserver) delivered(res *Result, n int) {
	if o == nil {
		return
	}
	for _, e := range res.Errors {
		switch e.Extensions["code"] {
		case CodeSlowConsumer:
			o.reason = transport.EndSlowConsumer
		case CodeUnavailable:
			o.reason = transport.EndBroker
		}
	}
	o.h.opts.Observer.OnDelivered(transportName, nil, n)
}

// end reports the end of the operation (once): with the reason its last
// result's error code gave, else shutdown or the client.
func (o *opObserver) end() {
	if o == nil || o.ended {
		return
	}
	o.ended = true
	reason := o.reason
	switch {
	case reason != "":
	case isClosing(o.h):
		reason = transport.EndShutdown
	default:
		reason = transport.EndClient
	}
	o.h.opts.Observer.OnSubEnded(transportName, reason, nil)
}

func isClosing(h *Handler) bool {
	select {
	case <-h.tr.Closing():
		return true
	default:
		return false
	}
}
