package transport

import (
	"fmt"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Scope bounds what an identity may reach with topic filters: a client may
// subscribe to (or read the history of) a filter only when it lies within
// one of Subscribe ([pubsub.Within]), and publish to (or request on) a
// topic only when it matches one of Publish. "user/alice/#" lets a client
// subscribe "user/alice/inbox" and "user/alice/+", never "user/+/#" or
// "#". An empty list allows nothing of its kind. Consumer group names
// (ActionJoin) are not topics and are left to Authorize.
//
// An Authenticate hook sets it on the [Identity] it returns (the
// transport/jwtauth authenticator fills it from a token's claims);
// [Auth.Check] then refuses what lies outside before Authorize runs, on
// every transport.
type Scope struct {
	Subscribe []string
	Publish   []string
}

// Allows returns nil when act on topic stays within s, else an error
// wrapping ErrForbidden that names the topic. ActionJoin is always
// allowed.
func (s *Scope) Allows(act Action, topic string) error {
	var scopes []string
	switch act {
	case ActionSubscribe, ActionHistory:
		scopes = s.Subscribe
	case ActionPublish, ActionRequest:
		scopes = s.Publish
	default:
		return nil
	}
	if act == ActionPublish || act == ActionRequest {
		if pubsub.ValidateTopic(topic) != nil {
			scopes = nil // a wildcard is no topic to publish to
		}
	}
	for _, p := range scopes {
		if pubsub.Within(topic, p) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s on %q is outside the identity's scope", ErrForbidden, act, clip.String(topic))
}
