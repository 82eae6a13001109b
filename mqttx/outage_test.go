package mqttx_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// TestBrokerPublishDuringOutage: while the MQTT server is unreachable,
// Publish fails with an error every transport maps to "unavailable"
// (HTTP 503, gRPC Unavailable), never an unmapped one (HTTP 500): both
// the publishes in flight when the connection is cut and those made
// while it is down.
func TestBrokerPublishDuringOutage(t *testing.T) {
	mosq := testenv.Mosquitto(t)
	for _, qos := range []int{-1, 1, 2} {
		t.Run(map[int]string{-1: "qos0", 1: "qos1", 2: "qos2"}[qos], func(t *testing.T) {
			px := testenv.NewProxy(t, mosq)
			lost := &onLog{msg: "mqttx: connection lost", c: make(chan struct{})}
			b := dialAddr(t, px.Addr(), &mqttx.Options{PublishQoS: qos, MaxBackoff: 100 * time.Millisecond,
				PacketTimeout: time.Second, Logger: slog.New(lost)})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			topic := prefix(t) + "outage"
			_, err := b.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte("up")})
			require.NoError(t, err)

			// Publishes racing the cut.
			const n = 50
			errs := make(chan error, n)
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := b.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte("x")})
					errs <- err
				}()
			}
			px.Cut()
			wg.Wait()
			close(errs)
			failed := 0
			for err := range errs {
				if err != nil {
					failed++
					require.Equal(t, transport.CodeUnavailable, transport.Code(err), "in flight: %v", err)
				}
			}
			// Publishes while the connection is down.
			select {
			case <-lost.c:
			case <-ctx.Done():
				t.Fatal("the Broker did not notice the cut")
			}
			_, err = b.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte("down")})
			require.Error(t, err)
			require.ErrorIs(t, err, mqttx.ErrDisconnected)
			require.Equal(t, transport.CodeUnavailable, transport.Code(err), "%v", err)
			require.Equal(t, 503, transport.HTTPStatus(err))
			t.Logf("%d of %d publishes racing the cut failed, all unavailable; down: %v", failed, n, err)
		})
	}
}

// TestRESTPublishDuringOutage is the hub's symptom: REST over an mqttx
// Broker whose MQTT server is unreachable answers 503 "unavailable" with
// Retry-After, not 500 "internal".
func TestRESTPublishDuringOutage(t *testing.T) {
	mosq := testenv.Mosquitto(t)
	px := testenv.NewProxy(t, mosq)
	lost := &onLog{msg: "mqttx: connection lost", c: make(chan struct{})}
	b := dialAddr(t, px.Addr(), &mqttx.Options{MaxBackoff: 100 * time.Millisecond, Logger: slog.New(lost)})
	srv := httptest.NewServer(transport.NewRESTHandler(b, nil))
	defer srv.Close()
	url := srv.URL + "/topics/" + prefix(t) + "outage"
	resp, err := http.Post(url, "text/plain", strings.NewReader("up"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	px.Cut()
	<-lost.c
	resp, err = http.Post(url, "text/plain", strings.NewReader("down"))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), `"unavailable"`)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
}

// TestBrokerPublishRefused: a PUBACK refusing the publish (here 0x87 from
// an mqttx.Server whose Auth forbids the topic) comes back as a
// *ReasonCodeError that the transports map (403), not as an unmapped error.
func TestBrokerPublishRefused(t *testing.T) {
	mem := newMemory(t)
	auth := &transport.Auth{Authorize: func(_ context.Context, _ *transport.Identity, a transport.Action, topic string) error {
		if a == transport.ActionPublish && strings.HasPrefix(topic, "secret/") {
			return transport.ErrForbidden
		}
		return nil
	}}
	_, addr := startServer(t, mem, &mqttx.ServerOptions{Auth: auth, Limits: transport.Limits{MaxMessageBytes: 1024}})
	b := dialAddr(t, addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := b.Publish(ctx, pubsub.Message{Topic: "public/x", Data: []byte("ok")})
	require.NoError(t, err)

	_, err = b.Publish(ctx, pubsub.Message{Topic: "secret/x", Data: []byte("no")})
	var rc *mqttx.ReasonCodeError
	require.ErrorAs(t, err, &rc)
	require.Equal(t, byte(0x87), rc.Code)
	require.ErrorIs(t, err, mqttx.ErrRefused)
	require.Equal(t, http.StatusForbidden, transport.HTTPStatus(err), "%v", err)

	_, err = b.Publish(ctx, pubsub.Message{Topic: "public/big", Data: make([]byte, 2000)})
	require.ErrorAs(t, err, &rc)
	require.Equal(t, byte(0x95), rc.Code)
	require.Equal(t, http.StatusRequestEntityTooLarge, transport.HTTPStatus(err), "%v", err)
}

// onLog is a slog.Handler that closes c when msg is logged.
type onLog struct {
	msg  string
	c    chan struct{}
	once sync.Once
}

func (h *onLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *onLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *onLog) WithGroup(string) slog.Handler            { return h }
func (h *onLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.c) })
	}
	return nil
}
