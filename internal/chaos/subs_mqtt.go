package main

import (
	"context"
	"fmt"
	"net"

	"github.com/eclipse/paho.golang/paho"
)

// runMQTT subscribes over MQTT 5 (paho.golang) to the hub's MQTT server.
// mqttx.Server sessions end with the connection, so every reconnect after
// the subscriber went live is a gap: CONNACK says Session Present 0, and
// messages published while it was away are not queued for it.
func runMQTT(ctx context.Context, s *subscriber, h *hub) error {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", h.mqttAddr)
	if err != nil {
		return err
	}
	ended := make(chan error, 1)
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			s.t.deliver(pr.Packet.Payload)
			return true, nil
		}},
		OnClientError: func(err error) {
			select {
			case ended <- err:
			default:
			}
		},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case ended <- fmt.Errorf("mqtt: server disconnect 0x%02x", d.ReasonCode):
			default:
			}
		},
	})
	defer func() { _ = conn.Close(); <-c.Done() }()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: s.name, CleanStart: true, KeepAlive: 5})
	if err != nil {
		return err
	}
	if !ack.SessionPresent && s.t.live() {
		s.t.gap("mqtt session not present")
	}
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: s.world.filter, QoS: 1}}}); err != nil {
		return err
	}
	// The gap reported at CONNACK also covers what was published until
	// the subscription was live again.
	s.t.extend()
	select {
	case <-ctx.Done():
		return nil
	case err := <-ended:
		return err
	case <-c.Done():
		return errEnded
	}
}
