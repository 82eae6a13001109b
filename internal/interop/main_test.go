// Package interop drives real third-party clients (Node.js packages,
// headless Chromium, grpc-go, mosquitto_pub/sub, amqplib) against
// Switchboard's handlers served on random loopback ports. Each transport has
// its own <transport>_test.go; helpers shared by them live in
// helpers_test.go.
package interop

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
