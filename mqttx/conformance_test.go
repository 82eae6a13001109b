package mqttx_test

import (
	"testing"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/pubsub/pubsubtest"
)

// TestConformance runs the pubsub conformance suite against Mosquitto.
// MQTT keeps no history and has no nack, so History and Acks are false.
func TestConformance(t *testing.T) {
	pubsubtest.Run(t, pubsubtest.Features{
		Capabilities:  pubsub.Capabilities{Groups: true, Retain: true},
		SharedBackend: true,
	}, func(t *testing.T) pubsub.Broker {
		return dialMosquitto(t, &mqttx.Options{})
	})
}
