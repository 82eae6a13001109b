package amqpx

// GroupQueue exposes groupQueue to the tests.
var GroupQueue = groupQueue
