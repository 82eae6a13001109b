package main

import (
	"context"

	graphql "github.com/graph-gophers/graphql-go"
	gqllog "github.com/graph-gophers/graphql-go/log"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/transport"
)

// GraphQL: /graphql serves gophers.BrokerSchema (Query.messages,
// Mutation.publish, Subscription.messages) over GraphQL over HTTP,
// graphql-transport-ws, legacy graphql-ws and GraphQL over SSE (distinct and
// single connection modes).
func init() {
	register("graphql", func(h *hub) error {
		logPanic := gqllog.LoggerFunc(func(ctx context.Context, v any) {
			h.log.Error("graphql resolver panicked", "panic", v)
		})
		// Mutations publish through the schema: ObserveBroker reports them. The
		// schema checks h.auth too (Authorize, the -publish-rate limit), not
		// only the Scope of the identity in the context.
		schema, err := gophers.NewBrokerSchema(transport.ObserveBroker(h.broker, h.observer, "graphql"), h.auth, graphql.Logger(logPanic))
		if err != nil {
			return err
		}
		gh := graphqlsub.NewHandler(gophers.New(schema, nil), &graphqlsub.Options{Logger: h.log, Auth: h.auth, Observer: h.observer})
		h.mux.Handle("/graphql", gh)
		h.manage(gh)
		return nil
	})
}
