// Package pubsubtest is the conformance suite every pubsub.Broker passes.
//
// Use Run in a broker's tests:
//
//	func TestConformance(t *testing.T) {
//		pubsubtest.Run(t, pubsubtest.Features{Capabilities: caps}, func(t *testing.T) pubsub.Broker {
//			return newBroker(t)
//		})
//	}
//
// Each case gets a fresh broker from the constructor (Run closes it) and
// unique topics, so cases run in parallel and brokers shared with other
// tests (RabbitMQ, Mosquitto) are not disturbed. Cases that need a
// capability run only when Features declares it, and the suite checks that
// the broker declares exactly the same capabilities.
package pubsubtest
