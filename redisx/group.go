package redisx

import (
	"context"

	"github.com/switchboard-go/switchboard/pubsub"
)

type groupSub struct {
	*pubsub.Feed
}

func (s *groupSub) end(err error) { s.End(err) }

func (b *Broker) subscribeGroup(ctx context.Context, fs []pubsub.Filter, o pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	return nil, pubsub.ErrNotSupported
}
