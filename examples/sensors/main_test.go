package main

import (
	"context"
	"io"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func start(t *testing.T) (httpURL, mqttAddr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	type addrs struct{ http, mqtt string }
	addrc := make(chan addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-mqtt-addr", "127.0.0.1:0"}, io.Discard,
			func(h, m string) { addrc <- addrs{h, m} })
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case a := <-addrc:
		return "http://" + a.http, a.mqtt
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return "", ""
}

// dashboard follows the dashboard's stream and returns "topic=payload"
// for each message.
func dashboard(t *testing.T, base string) <-chan string {
	t.Helper()
	return follow(t, base, "topic=sensors/%2B/temperature&topic=sensors/%2B/status")
}

// follow is dashboard with another query.
func follow(t *testing.T, base, query string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan string, 64)
	done := make(chan struct{})
	c := &sse.Client{URL: base + "/events?" + query}
	go func() {
		defer close(done)
		_ = c.Run(ctx, func(e sse.Event) error {
			if e.Type != "" {
				return nil // sb-open
			}
			m, err := transport.DecodeEnvelope([]byte(e.Data))
			if err != nil {
				return err
			}
			select {
			case ch <- m.Topic + "=" + string(m.Data):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func expect(t *testing.T, ch <-chan string, want ...string) {
	t.Helper()
	got := map[string]bool{}
	for len(got) < len(want) {
		select {
		case s := <-ch:
			require.Contains(t, want, s)
			require.False(t, got[s], "%s twice", s)
			got[s] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestDeviceRetainedValuesAndWill(t *testing.T) {
	base, mqttAddr := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A device (paho, MQTT 5) with a will, on a connection we can cut.
	conn, err := net.Dial("tcp", mqttAddr)
	require.NoError(t, err)
	dev := paho.NewClient(paho.ClientConfig{ClientID: "kitchen", Conn: conn})
	t.Cleanup(func() { _ = conn.Close(); <-dev.Done() })
	ack, err := dev.Connect(ctx, &paho.Connect{ClientID: "kitchen", KeepAlive: 30, CleanStart: true,
		WillMessage: &paho.WillMessage{Topic: "sensors/kitchen/status", Payload: []byte("offline"), Retain: true, QoS: 1}})
	require.NoError(t, err)
	require.Zero(t, ack.ReasonCode)
	pub := func(topic, payload string) error {
		_, err := dev.Publish(ctx, &paho.Publish{Topic: topic, Payload: []byte(payload), QoS: 1, Retain: true})
		return err
	}
	require.NoError(t, pub("sensors/kitchen/status", "online"))
	require.NoError(t, pub("sensors/kitchen/temperature", "21.5"))
	require.Error(t, pub("lights/kitchen", "on"), "outside sensors/ID/… is refused with a reason code")

	// A dashboard opened later gets the retained last values first.
	dash := dashboard(t, base)
	expect(t, dash, "sensors/kitchen/status=online", "sensors/kitchen/temperature=21.5")

	require.NoError(t, pub("sensors/kitchen/temperature", "22.0"))
	expect(t, dash, "sensors/kitchen/temperature=22.0")

	// The device vanishes without DISCONNECT: its will says so.
	dev.TerminateConnectionForTest()
	expect(t, dash, "sensors/kitchen/status=offline")
}

// TestMosquittoPub: the README's command line, with the real mosquitto_pub.
func TestMosquittoPub(t *testing.T) {
	mosquittoPub := testenv.Command(t, "mosquitto_pub")
	base, mqttAddr := start(t)
	host, port, err := net.SplitHostPort(mqttAddr)
	require.NoError(t, err)
	out, err := exec.Command(mosquittoPub, "-h", host, "-p", port, "-q", "1", "-r",
		"-t", "sensors/garage/temperature", "-m", "7.25").CombinedOutput()
	require.NoError(t, err, "%s", out)

	dash := dashboard(t, base)
	expect(t, dash, "sensors/garage/temperature=7.25")
}

// Issue 15: the guide's MQTT.js topics (sensors/temperature/ID, the will
// on clients/disconnected) are allowed; with MQTT 3.1.1 a refused publish
// is acknowledged and dropped, so mosquitto_pub succeeds, and nothing
// arrives.
func TestGuideTopics(t *testing.T) {
	mosquittoPub := testenv.Command(t, "mosquitto_pub")
	base, mqttAddr := start(t)
	host, port, err := net.SplitHostPort(mqttAddr)
	require.NoError(t, err)
	dash := follow(t, base, "topic=%23")
	for _, tc := range []struct{ topic, payload string }{
		{"sensors/temperature/room1", "22.3"},
		{"lights/kitchen", "on"}, // refused: acknowledged (3.1.1), dropped
		{"clients/disconnected", "Client disconnected unexpectedly"},
	} {
		out, err := exec.Command(mosquittoPub, "-V", "mqttv311", "-h", host, "-p", port, "-q", "1",
			"-t", tc.topic, "-m", tc.payload).CombinedOutput()
		require.NoError(t, err, "%s: %s", tc.topic, out)
	}
	expect(t, dash, "sensors/temperature/room1=22.3")
	expect(t, dash, "clients/disconnected=Client disconnected unexpectedly")

	_, err = deviceAuth("sensors/+/x,bad/#/y", "")
	require.Error(t, err, "a bad -publish filter is refused at start")
	auth, err := deviceAuth("a/+", "sensors/#,x/+/y")
	require.NoError(t, err)
	for filter, ok := range map[string]bool{"sensors/#": true, "sensors/+/temperature": true, "sensors": true,
		"x/1/y": true, "x/+/y": true, "x/#": false, "#": false, "+/1/y": false, "x/1/y/z": false} {
		err := auth.Authorize(context.Background(), nil, transport.ActionSubscribe, filter)
		require.Equal(t, ok, err == nil, "subscribe %s: %v", filter, err)
	}
}
