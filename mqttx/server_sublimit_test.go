package mqttx_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/transport"
)

// TestServerSubscribeLimit: an Authorize hook that refuses a subscription
// with a limit error (a *transport.LimitError) gets SUBACK 0x97 (quota
// exceeded), as a publish does, not 0x87 (not authorized).
func TestServerSubscribeLimit(t *testing.T) {
	mem := newMemory(t)
	auth := &transport.Auth{Authorize: func(_ context.Context, _ *transport.Identity, a transport.Action, topic string) error {
		if a == transport.ActionSubscribe && topic == "busy/#" {
			return &transport.LimitError{What: "subscribe rate"}
		}
		if a == transport.ActionSubscribe && topic == "secret/#" {
			return transport.ErrForbidden
		}
		return nil
	}}
	_, addr := startServer(t, mem, &mqttx.ServerOptions{Auth: auth})
	rc := dialRaw(t, addr, 5)
	rc.connect("limited", nil)
	ack := rc.subscribe(1, 0, "busy/#", "secret/#", "ok/#")
	require.Equal(t, []byte{0x97, 0x87, 0}, ack.ReasonCodes)
}
