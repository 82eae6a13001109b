package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
)

// The guide's amqplib pub/sub pair declares this exchange; the test uses
// the name as it is, so it deletes it (and the hub's history stream on
// it) before and after.
const guideUpdates = "updates"

func resetGuideUpdates(t *testing.T, amqpURL string) {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_ = ch.ExchangeDelete(guideUpdates, false, false)
	_, _ = ch.QueueDelete(guideUpdates+".history", false, false, false)
}

// guideVHost returns amqpURL on a RabbitMQ virtual host of the test's own,
// deleted at the end, when rabbitmqctl can make one (RabbitMQ on this
// machine): the guide's fixed names (exchange updates) then cannot meet
// another run of the same test on the shared server. The vhost is part of
// the address, the one thing the snippets may change. Otherwise it returns
// amqpURL, and the names are shared.
func guideVHost(t *testing.T, amqpURL string) string {
	t.Helper()
	u, err := url.Parse(amqpURL)
	require.NoError(t, err)
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		t.Logf("no rabbitmqctl: the guide's names on the default vhost")
		return amqpURL
	}
	vhost := "sbguide-" + pubsub.NewEpoch()
	run := func(args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, ctl, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("rabbitmqctl %v: %w: %s", args, err, out)
		}
		return nil
	}
	if err := run("add_vhost", vhost); err != nil {
		t.Logf("%v: the guide's names on the default vhost", err)
		return amqpURL
	}
	t.Cleanup(func() {
		if err := run("delete_vhost", vhost); err != nil {
			t.Log(err)
		}
	})
	require.NoError(t, run("set_permissions", "-p", vhost, u.User.Username(), ".*", ".*", ".*"))
	t.Logf("the guide's names on RabbitMQ vhost %s", vhost)
	u.Path, u.RawPath = "/"+vhost, ""
	return u.String()
}

// TestGuideAMQPPubSub runs the guide's amqplib publisher and subscriber
// (Pub/Sub, "Message Broker Implementation": topic exchange updates
// declared {durable: false}, routing key user.profile.updated, binding
// user.#) against the hub on RabbitMQ with -amqp-exchange updates. The
// publisher's message reaches a hub SSE client as user/profile/updated,
// and a message published through the hub's REST API reaches the
// subscriber. In both orders: the subscriber declares the exchange first,
// non-durable, and the hub, which declares durable ones, uses it as it
// is; or the hub declares it first, with -amqp-exchange-transient, and the
// snippets' declarations agree with it (without that flag they fail with
// PRECONDITION_FAILED).
func TestGuideAMQPPubSub(t *testing.T) {
	amqpURL := testenv.RabbitMQ(t)
	testenv.NodeDir(t)
	bin := build(t, "hub")["hub"]
	for _, hubFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "snippet first", true: "hub first"}[hubFirst], func(t *testing.T) {
			testGuideAMQPPubSub(t, amqpURL, bin, hubFirst)
		})
	}
}

func testGuideAMQPPubSub(t *testing.T, amqpURL, bin string, hubFirst bool) {
	amqpURL = guideVHost(t, amqpURL)
	resetGuideUpdates(t, amqpURL)
	t.Cleanup(func() { resetGuideUpdates(t, amqpURL) })

	args := []string{"-addr", "127.0.0.1:0", "-mqtt-addr", "off", "-broker", amqpURL, "-amqp-exchange", guideUpdates}
	var h *process
	if hubFirst {
		h = start(t, bin, append(args, "-amqp-exchange-transient"), map[string]*regexp.Regexp{"http": hubListening})
	}
	sub := startNode(t, "guide-amqp-pubsub-subscriber.cjs", amqpURL)
	sub.waitLine(t, regexp.MustCompile(`^Waiting for messages matching user\.#$`), 20*time.Second)
	if !hubFirst {
		h = start(t, bin, args, map[string]*regexp.Regexp{"http": hubListening})
	}
	base := "http://" + h.addrs["http"]
	events := followSSE(t, base+"/events?format=envelope&topic="+url.QueryEscape("user/#"))

	// Snippet → hub: the publisher sends once per run; run it until the
	// SSE stream (connecting meanwhile) has a message.
	type update struct {
		UserID    int    `json:"userId"`
		Action    string `json:"action"`
		Timestamp int64  `json:"timestamp"`
	}
	var printed, got string
	deadline := time.Now().Add(30 * time.Second)
	for got == "" {
		require.True(t, time.Now().Before(deadline), "no SSE event for the guide publisher's messages")
		printed = runNode(t.Context(), t, "guide-amqp-pubsub-publisher.cjs", amqpURL)
		require.Equal(t, "Message sent to user.profile.updated\n", printed)
		select {
		case got = <-events:
		case <-time.After(2 * time.Second):
		}
	}
	topic, payload, _ := strings.Cut(got, "=")
	require.Equal(t, "user/profile/updated", topic)
	var u update
	require.NoError(t, json.Unmarshal([]byte(payload), &u), payload)
	require.Equal(t, 42, u.UserID)
	require.Equal(t, "profile-updated", u.Action)
	require.NotZero(t, u.Timestamp)
	t.Logf("guide publisher printed: %q; hub SSE client received %s", printed, got)

	// The subscriber saw the publisher's messages too.
	sub.waitLine(t, regexp.MustCompile(`^Received: \{"userId":42,"action":"profile-updated","timestamp":\d+\}$`), 10*time.Second)
	sub.waitLine(t, regexp.MustCompile(`^Routing key: user\.profile\.updated$`), 10*time.Second)

	// Hub → snippet: a REST publish on user/profile/updated.
	resp, err := http.Post(base+"/topics/user/profile/updated", "application/json",
		strings.NewReader(`{"userId":7,"action":"from-the-hub"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	sub.waitLine(t, regexp.MustCompile(`^Received: \{"userId":7,"action":"from-the-hub"\}$`), 15*time.Second)
	sub.waitLine(t, regexp.MustCompile(`^Routing key: user\.profile\.updated$`), 10*time.Second)
	require.Empty(t, sub.stderr())
	t.Logf("guide subscriber printed:\n%s", sub.stdout())
	require.NotContains(t, h.logs(), "PRECONDITION_FAILED")
}
