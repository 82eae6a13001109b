package mqttx

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"
)

// Issue 15: mochi's "error processing packet" dumped the whole packet, a
// ~2,200-character line per refused publish. The server's logger gets one
// short line with the packet summarized, one level lower.
func TestMochiLogSummarizesPackets(t *testing.T) {
	var buf bytes.Buffer
	log := mochiLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "sensors/temperature/room1",
		PacketID: 7, Payload: bytes.Repeat([]byte("23.4 "), 400)}
	log.Warn("error processing packet", "error", "not authorized", "client", "node-client-1", "pk", pk)
	log.With("packet", &pk).Info("failed publishing packet")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		require.Less(t, len(l), 300, l)
		require.NotContains(t, l, "23.4")
		require.Contains(t, l, `Publish topic=\"sensors/temperature/room1\" qos=1 bytes=2000 id=7`)
	}
	require.Contains(t, lines[0], "level=INFO", "Warn becomes Info")
	require.Contains(t, lines[1], "level=DEBUG")
	require.Contains(t, lines[0], "client=node-client-1")
}
