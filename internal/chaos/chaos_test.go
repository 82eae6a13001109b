package main

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestChaos is the short chaos run: about 100 random disconnects, four
// broker-link faults (a cut and a black hole of each broker) and two hub
// restarts (one graceful, one crash) in 60 s, with every message checked at every subscriber.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos run takes about 80 s")
	}
	amqpURL := testenv.RabbitMQ(t)
	mqttAddr := testenv.Mosquitto(t)
	var logs bytes.Buffer
	cfg := Config{
		Duration: 60 * time.Second, Disconnects: 100, Faults: 4, Restarts: 2, Seed: 14,
		AMQPURL: amqpURL, MQTTAddr: mqttAddr,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := Run(ctx, cfg)
	require.NoError(t, err, "setup; log:\n%s", logs.String())
	var out bytes.Buffer
	sum.Print(&out)
	t.Log("\n" + out.String())
	require.Truef(t, sum.OK(), "the delivery contract was broken; log:\n%s", logs.String())
	require.GreaterOrEqual(t, sum.Disconnects.Load(), int64(90), "too few clients could be killed")
	require.Equal(t, int64(4), sum.LinkFaults.Load())
	require.Equal(t, int64(2), sum.Restarts.Load())
	require.Positive(t, sum.Published)
	require.Zero(t, sum.Bad)
}

// TestChaosCatchesLoss runs broken subscribers (they reconnect without
// their cursor, so they miss what was published meanwhile and get no gap
// signal): the run must report losses and fail.
func TestChaosCatchesLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos run takes about 20 s")
	}
	amqpURL := testenv.RabbitMQ(t)
	mqttAddr := testenv.Mosquitto(t)
	cfg := Config{
		Duration: 10 * time.Second, Disconnects: 40, Faults: -1, Restarts: -1, Seed: 15,
		PerKind: 1, Interval: 20 * time.Millisecond, ForgetCursors: true,
		AMQPURL: amqpURL, MQTTAddr: mqttAddr,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := Run(ctx, cfg)
	require.NoError(t, err)
	var out bytes.Buffer
	sum.Print(&out)
	t.Log("\n" + out.String())
	require.False(t, sum.OK())
	require.Positive(t, sum.Lost)
	require.NotEmpty(t, sum.LostList)
	require.Zero(t, sum.LinkFaults.Load())
}

// TestCheckerCounts feeds a tally by hand: a duplicate, a reorder, an
// unexplained hole and a hole after a gap signal are each counted where
// they belong.
func TestCheckerCounts(t *testing.T) {
	tl := newTally(nil)
	d := func(p string, s int) { tl.deliver([]byte(`{"p":"` + p + `","s":` + strconv.Itoa(s) + `}`)) }
	d("a", 1)
	d("a", 2)
	d("a", 2) // duplicate
	d("a", 5) // 3 and 4 lost
	d("a", 4) // out of order: 4 was late after all
	tl.gap("test")
	d("a", 8) // 6 and 7 explained by the gap
	d("a", 9)
	tl.deliver([]byte("not ours"))
	r := tl.settle(map[string]int{"a": 10, "b": 2})
	require.Equal(t, 1, r.dups)
	require.Equal(t, 1, r.reorders)
	require.Equal(t, 1, r.bad)
	require.Equal(t, 6, r.delivered) // 1 2 4 5 8 9
	// 6 and 7, and b's two: the gap came before any of b's messages, and
	// none came after it.
	require.Equal(t, 4, r.explained)
	require.Equal(t, 2, r.lost) // a#3 and a#10
	require.Equal(t, map[string]int{"test": 1}, r.gaps)
}

// TestRefusesUnboundedOrRemote: the program runs bounded, on loopback only.
func TestRefusesUnboundedOrRemote(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "2h"},
		{"-disconnects", "1000000"},
		{"-amqp", "amqp://guest:guest@10.1.2.3:5672/"},
		{"-mqtt", "broker.example.com:1883"},
		{"-no-such-flag"},
	} {
		var out, errOut bytes.Buffer
		require.Equal(t, 2, cli(context.Background(), args, &out, &errOut), "%v", args)
		require.NotEmpty(t, errOut.String(), "%v says why", args)
	}
	require.True(t, loopback("127.0.0.1:5672"))
	require.True(t, loopback("[::1]:1883"))
	require.True(t, loopback("localhost:1883"))
	require.False(t, loopback("192.168.1.1:1883"))
}

// TestCheckerGapIsBounded: a gap signal explains what was published
// before the client saw it, not what came after: a subscription that went
// silent after a gap (or missed messages later) loses them.
func TestCheckerGapIsBounded(t *testing.T) {
	started := map[string]int{"a": 0, "b": 0}
	snap := func() map[string]int { return maps.Clone(started) }
	tl := newTally(snap)
	d := func(p string, s int) { tl.deliver([]byte(`{"p":"` + p + `","s":` + strconv.Itoa(s) + `}`)) }
	started["a"] = 3
	d("a", 1)
	d("a", 2)
	started["a"], started["b"] = 6, 2
	tl.gap("test") // explains a#3-6 and b#1-2 at most
	d("a", 9)      // 3-6 explained, 7 and 8 lost
	started["a"], started["b"] = 12, 5
	tl.gap("silent") // explains a#10-12, b#1-5; nothing arrives after it
	r := tl.settle(map[string]int{"a": 15, "b": 7})
	require.Equal(t, 3, r.delivered)
	require.Equal(t, 4+3+5, r.explained) // a#3-6, a#10-12, b#1-5
	require.Equal(t, 2+3+2, r.lost)      // a#7-8, a#13-15, b#6-7
	require.Equal(t, []string{"a #7-8", "a #13-15", "b #6-7"}, r.lostRanges)
	require.False(t, tl.has("a", 13), "the drain waits for a#13")
	require.True(t, tl.has("a", 12))
	require.False(t, tl.has("b", 6))

	// A gap learned before the subscription is live again (MQTT's
	// CONNACK) is extended when it is.
	started = map[string]int{"a": 2}
	tl = newTally(snap)
	d("a", 1)
	tl.gap("connack")
	started["a"] = 4 // published before the SUBACK
	tl.extend()
	started["a"] = 6
	d("a", 6)
	r = tl.settle(map[string]int{"a": 6})
	require.Equal(t, 3, r.explained) // a#2-4
	require.Equal(t, 1, r.lost)      // a#5
}
