package mqttx_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/obstest"
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

// TestServerTopicAliasAuthorized: an MQTT 5 PUBLISH that names its topic
// only by a topic alias is authorized on the topic the alias stands for
// (it was checked on the empty topic name, which a scoped identity may
// never publish to, so such publishes were refused with 0x87).
func TestServerTopicAliasAuthorized(t *testing.T) {
	mem := newMemory(t)
	auth := &transport.Auth{Authorize: func(_ context.Context, _ *transport.Identity, a transport.Action, topic string) error {
		if a == transport.ActionPublish && !strings.HasPrefix(topic, "ok/") {
			return transport.ErrForbidden
		}
		return nil
	}}
	_, addr := startServer(t, mem, &mqttx.ServerOptions{Auth: auth})
	ctx := context.Background()
	sub, err := mem.Subscribe(ctx, "ok/#", nil)
	require.NoError(t, err)
	defer sub.Close()

	rc := dialRaw(t, addr, 5)
	rc.connect("alias", nil)
	for i, topic := range []string{"ok/a", ""} { // the topic and its alias, then the alias alone
		rc.send(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
			PacketID:    uint16(i + 1),
			TopicName:   topic,
			Payload:     []byte{byte('0' + i)},
			Properties:  packets.Properties{TopicAlias: 1, TopicAliasFlag: true},
		})
		ack := rc.read()
		require.Equal(t, packets.Puback, ack.FixedHeader.Type)
		require.Zero(t, ack.ReasonCode, "publish %d", i)
		m := <-sub.C()
		require.Equal(t, "ok/a", m.Topic)
		require.Equal(t, []byte{byte('0' + i)}, m.Data)
	}
}

// TestServerObserverLimitRefusal: a subscription refused beyond
// Limits.MaxSubscriptions (SUBACK 0x97) is reported to the Observer as
// refused with reason limit, as one Auth refuses is.
func TestServerObserverLimitRefusal(t *testing.T) {
	rec := obstest.New()
	mem := newMemory(t)
	_, addr := startServer(t, mem, &mqttx.ServerOptions{Observer: rec.Observer(), Limits: transport.Limits{MaxSubscriptions: 1}})
	rc := dialRaw(t, addr, 5)
	rc.connect("counted", nil)
	require.Equal(t, []byte{0, 0x97}, rc.subscribe(1, 0, "a", "b").ReasonCodes)
	ended := rec.WaitKind(t, obstest.SubEnded, 1)
	require.Equal(t, obstest.Event{Kind: obstest.SubEnded, Transport: "mqtt", Filters: []string{"b"},
		Reason: transport.EndLimit, Refused: true, Err: ended[0].Err}, ended[0])
	require.Len(t, rec.Of(obstest.SubStarted), 1)
}
