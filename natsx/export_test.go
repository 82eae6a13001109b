package natsx

// NodeSubscriptions returns the core NATS subscriptions b's node holds.
func NodeSubscriptions(b *Broker) int { return b.node.count() }
