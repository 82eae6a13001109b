package main

import (
	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
)

// GraphQL: /graphql serves gophers.BrokerSchema (Query.messages,
// Mutation.publish, Subscription.messages) over GraphQL over HTTP,
// graphql-transport-ws, legacy graphql-ws and GraphQL over SSE.
func init() {
	register("graphql", func(h *hub) error {
		schema, err := gophers.NewBrokerSchema(h.broker, nil)
		if err != nil {
			return err
		}
		gh := graphqlsub.NewHandler(gophers.New(schema, nil), &graphqlsub.Options{Logger: h.log})
		h.mux.Handle("/graphql", gh)
		h.onShutdown(gh.Shutdown)
		h.onClose(gh.Close)
		return nil
	})
}
