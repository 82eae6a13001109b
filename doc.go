// Package switchboard is the root of Switchboard, a library of transport
// adapters that let a Go service talk to its clients by any method they
// speak, over one publish/subscribe core.
//
// This package holds no code; the packages are:
//
//   - pubsub: the core. Message, the Broker interface, MQTT 5 topic
//     filters, cursors, request/reply, and Memory, the in-process broker.
//   - pubsub/pubsubtest: the conformance suite every Broker passes.
//   - transport: what every transport shares: authentication and
//     authorization hooks, the JSON envelope, limits, error mapping, and the
//     plain HTTP/REST handler.
//   - sse: Server-Sent Events handler and Go client.
//   - longpoll: long-polling handler with cursors.
//   - ws: WebSocket handler (protocol switchboard.v1) and Go client.
//   - grpcx: gRPC, gRPC-Web and Connect service over any broker.
//   - graphqlsub: GraphQL over HTTP, graphql-transport-ws, legacy graphql-ws
//     and GraphQL over SSE.
//   - mqttx: a Broker over an MQTT 5 server, and an MQTT server that devices
//     connect to.
//   - amqpx: a Broker over RabbitMQ, for running on many nodes.
//   - natsx: a Broker over NATS JetStream, for running on many nodes.
//   - redisx: a Broker over Redis Streams, for running on many nodes.
//   - examples: runnable programs; examples/hub mounts everything on one
//     server.
//
// Every transport is an http.Handler (or a listener constructor) over a
// pubsub.Broker, so an application mounts exactly the methods it needs on
// its own mux, and a message published on one transport reaches
// subscribers on all of them. Every handler stops the same way
// (Shutdown graceful, Close abrupt, Active counts; transport.Shutdown
// stops a server and its handlers in one call). See README.md to get
// started and CONTRIBUTING.md for the conventions.
package switchboard
