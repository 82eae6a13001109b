package pubsub

import "context"

// ReadinessChecker is implemented by brokers that can tell whether they
// can serve now: Memory, and the network brokers (amqpx, mqttx, natsx,
// redisx), which know whether they are connected. Health endpoints and the
// gRPC health service ask it (see Ready).
type ReadinessChecker interface {
	// Ready returns nil when the broker can publish and deliver now;
	// otherwise why not: an error wrapping ErrUnavailable (not connected,
	// with the last connection error when there is one) or ErrClosed. It
	// does not wait for a reconnect; a check that needs the network is
	// bounded by ctx. Safe for concurrent use.
	Ready(ctx context.Context) error
}

// Ready asks b whether it is ready (see ReadinessChecker), looking through
// wrappers (see Wrap and As); a broker that cannot tell is taken as ready.
func Ready(ctx context.Context, b Broker) error {
	if rc, ok := As[ReadinessChecker](b); ok {
		return rc.Ready(ctx)
	}
	return nil
}
