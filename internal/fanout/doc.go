// Package fanout is the local fan-out table of the scale-out brokers
// (amqpx, natsx, redisx): each node receives the messages its
// subscriptions need once, from the server, and hands every message to the
// matching local subscriptions through a Table.
//
// Exact filters are found by map lookup; wildcard filters are grouped by
// filter, so each distinct wildcard filter is matched once per message
// however many subscriptions share it. A subscription on several filters
// is attached under each of them and may therefore be found more than once
// for the same message: its offer function sees every find, and the
// brokers offer the message once (Live.OfferOnce remembers the last
// message offered).
//
// Live is the part of the brokers' plain subscriptions that does not
// depend on the broker: the Feed, the filters, the gap flag, the offer
// de-duplication and the methods of pubsub.Subscription, ending through a
// detach function each broker provides.
//
// One goroutine per node (the consumer, dispatcher or reader) calls
// Deliver, so every subscription sees messages in the node's order;
// Add, Remove, CloseAll and All may be called from any goroutine.
package fanout
