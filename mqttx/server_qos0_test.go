package mqttx_test

import (
	"fmt"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/transport"
)

// TestServerQoS0InvalidPublish: a QoS 0 PUBLISH has no acknowledgement to
// carry a refusal, so a topic name with wildcards or a payload over the
// limit ends the connection, as the spec asks: MQTT 5 clients get
// DISCONNECT 0x90 (Topic Name invalid) or 0x95 (Packet too large) first,
// MQTT 3.1.1 clients see the connection close. It was dropped silently.
// A QoS 0 publish to $SYS is only dropped.
func TestServerQoS0InvalidPublish(t *testing.T) {
	mem := newMemory(t)
	_, addr := startServer(t, mem, &mqttx.ServerOptions{Limits: transport.Limits{MaxMessageBytes: 1024}})
	for _, version := range []byte{5, 4} {
		for _, tc := range []struct {
			topic string
			size  int
			code  byte
		}{{"a/+", 1, 0x90}, {"a/#", 1, 0x90}, {"+", 1, 0x90}, {"big", 2000, 0x95}} {
			t.Run(fmt.Sprintf("v%d %s", version, tc.topic), func(t *testing.T) {
				rc := dialRaw(t, addr, version)
				rc.connect(fmt.Sprintf("qos0-%d-%s", version, tc.topic), nil)
				rc.publish(0, 0, tc.topic, make([]byte, tc.size), false)
				got := rc.closed()
				if version < 5 {
					require.Empty(t, got, "MQTT 3.1.1 has no server DISCONNECT")
					return
				}
				require.Len(t, got, 1, "%v", got)
				require.Equal(t, packets.Disconnect, got[0].FixedHeader.Type)
				require.Equal(t, tc.code, got[0].ReasonCode)
			})
		}
		t.Run(fmt.Sprintf("v%d $SYS dropped", version), func(t *testing.T) {
			rc := dialRaw(t, addr, version)
			rc.connect(fmt.Sprintf("qos0-%d-sys", version), nil)
			rc.publish(0, 0, "$SYS/x", []byte("x"), false)
			require.Len(t, rc.subscribe(1, 0, "still/open").ReasonCodes, 1, "the connection stays open")
		})
	}
}
