package natsx_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/natsx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/pubsub/pubsubtest"
)

// newProxy starts a proxy to the NATS server that the test can cut, and
// returns it with the URL that goes through it.
func newProxy(t *testing.T, natsURL string) (*testenv.Proxy, string) {
	u, err := url.Parse(natsURL)
	require.NoError(t, err)
	p := testenv.NewProxy(t, u.Host)
	u.Host = p.Addr()
	return p, u.String()
}

// TestFaultCutMidStream cuts the connection of a node that publishes and
// subscribes while it publishes: the live subscription ends with
// ErrDisconnected (never a silent loss), the node reconnects by itself,
// and a subscriber resuming from the last cursor it received gets every
// confirmed message, once, in order.
func TestFaultCutMidStream(t *testing.T) {
	sp := newSpace(t)
	proxy, proxied := newProxy(t, sp.url)
	b := sp.brokerAt(proxied)
	c := ctx(t)
	topic := "fault/" + pubsub.NewID()
	sub, err := b.Subscribe(c, topic, &pubsub.SubscribeOptions{Buffer: 1000})
	require.NoError(t, err)

	const n = 200
	confirmed := make(chan int, n)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		defer close(confirmed)
		for i := range n {
			pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := b.Publish(pctx, pubsub.Message{Topic: topic, Data: []byte(strconv.Itoa(i))})
			cancel()
			if err == nil {
				confirmed <- i
			}
		}
	}()

	// Read a little, then cut.
	var last *pubsub.Message
	for range 20 {
		last = recv(t, sub)
	}
	proxy.Cut()
	if got := pubsubtest.UntilEnd(t, sub, 30*time.Second); len(got) > 0 { // what arrived before the cut
		last = got[len(got)-1]
	}
	require.ErrorIs(t, sub.Err(), natsx.ErrDisconnected, "the subscription ends with an explicit error")
	proxy.Restore()
	<-pubDone

	var want []int
	for i := range confirmed {
		want = append(want, i)
	}
	require.NotEmpty(t, want)
	// Resume from the last cursor received, through the reconnected node.
	re, err := b.Subscribe(c, topic, &pubsub.SubscribeOptions{Since: last.Cursor, Buffer: 2 * n})
	require.NoError(t, err)
	defer re.Close()
	require.False(t, re.Gap())
	lastN, _ := strconv.Atoi(string(last.Data))
	got := map[int]bool{}
	prev := lastN
	for _, i := range want {
		if i <= lastN {
			continue
		}
		for !got[i] {
			m := recv(t, re)
			k, err := strconv.Atoi(string(m.Data))
			require.NoError(t, err)
			require.Greater(t, k, prev, "in order, no duplicate")
			prev = k
			got[k] = true
		}
	}
	t.Logf("confirmed %d of %d publishes; cut after message %d", len(want), n, lastN)

	// Live delivery works again on the reconnected node.
	_, err = b.Publish(c, pubsub.Message{Topic: topic, Data: []byte("after")})
	require.NoError(t, err)
	for {
		if m := recv(t, re); string(m.Data) == "after" {
			break
		}
	}
}

// TestFaultGroupAcrossCut: a group member behind a cut connection goes on
// consuming its durable consumer after the reconnect; every message
// published meanwhile (by another node) arrives, none is lost: those the
// server sent while the connection was being cut are redelivered after
// AckWait.
func TestFaultGroupAcrossCut(t *testing.T) {
	sp := newSpace(t)
	proxy, proxied := newProxy(t, sp.url)
	member := sp.brokerAt(proxied, func(o *natsx.Options) { o.AckWait = time.Second })
	publisher := sp.broker()
	c, cancel := context.WithTimeout(context.Background(), 90*time.Second) // the recovery may wait for a heartbeat check
	defer cancel()
	topic := "jobs/" + pubsub.NewID()
	sub, err := member.Subscribe(c, topic, &pubsub.SubscribeOptions{Group: "workers", ManualAck: true, Prefetch: 4})
	require.NoError(t, err)
	const n = 30
	seen := map[string]bool{}
	take := func() {
		m := recvWithin(t, sub, 30*time.Second) // beyond the heartbeat check
		seen[string(m.Data)] = true
		require.NoError(t, sub.Ack(m))
	}
	for i := range n {
		_, err := publisher.Publish(c, pubsub.Message{Topic: topic, Data: []byte(strconv.Itoa(i))})
		require.NoError(t, err)
		if i == 10 {
			for len(seen) < 5 {
				take()
			}
			proxy.Cut()
		}
		if i == 20 {
			proxy.Restore()
		}
	}
	for len(seen) < n {
		take()
	}
	require.Nil(t, sub.Err())
}
