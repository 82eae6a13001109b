package graphqlsub_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
)

// TestShareSubscriptionsOverWebSocket: live subscriptions with the same
// document share one execution (gophers.ShareLive) and every one of them,
// on one connection or several, gets every message once, in order, under
// its own id; a resume with since runs alone and replays its history.
func TestShareSubscriptionsOverWebSocket(t *testing.T) {
	e := newEnv(t, &graphqlsub.Options{ShareSubscriptions: gophers.ShareLive})
	before := e.publish(t, "x/0", "not matching")
	e.publish(t, "s/0", "history")
	const live = `subscription { messages(filter: "s/#") { topic data } }`
	type sub struct {
		c  *wsClient
		id string
	}
	c1, c2 := dial(t, e.url, graphqlsub.SubprotocolTransportWS), dial(t, e.url, graphqlsub.SubprotocolTransportWS)
	c1.init(nil)
	c2.init(nil)
	subs := []sub{{c1, "a"}, {c2, "b"}, {c2, "c"}}
	for _, s := range subs {
		s.c.send(subscribeMsg(s.id, live, nil))
	}
	c1.send(subscribeMsg("r", `subscription { messages(filter: "s/#", since: "`+before.Cursor+`") { topic data } }`, nil))

	// Subscribe has no answer: publish probes until every subscription got
	// one, then the measured messages.
	got := map[string][]string{}
	msgs := map[*wsClient]chan wireMsg{c1: make(chan wireMsg, 64), c2: make(chan wireMsg, 64)}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for c, ch := range msgs {
		wg.Go(func() {
			for {
				_, b, err := c.c.Read(ctx)
				if err != nil {
					return
				}
				var m wireMsg
				if json.Unmarshal(b, &m) != nil {
					m = wireMsg{Type: "unparsable: " + string(b)}
				}
				select {
				case ch <- m:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	take := func(m wireMsg) {
		require.Equal(t, "next", m.Type, "%s", m.Payload)
		ev := decodeEvent(t, m.Payload)
		require.Empty(t, ev.Errors)
		got[m.ID] = append(got[m.ID], ev.Data.Messages.Data)
	}
	warm := func() bool {
		for _, id := range []string{"a", "b", "c", "r"} {
			if len(got[id]) == 0 || (id == "r" && len(got[id]) < 2) {
				return false
			}
		}
		return true
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !warm() {
		select {
		case m := <-msgs[c1]:
			take(m)
		case m := <-msgs[c2]:
			take(m)
		case <-tick.C:
			e.publish(t, "s/probe", "probe")
		case <-deadline:
			t.Fatalf("not every subscription live: %v", got)
		}
	}
	require.Equal(t, "history", got["r"][0], "the resume replays, alone")
	for id := range got {
		got[id] = nil
	}
	for i := range 5 {
		e.publish(t, "s/"+strconv.Itoa(i), "m"+strconv.Itoa(i))
	}
	e.publish(t, "s/end", "end")
	done := func() bool {
		for _, id := range []string{"a", "b", "c", "r"} {
			if n := len(got[id]); n == 0 || got[id][n-1] != "end" {
				return false
			}
		}
		return true
	}
	for !done() {
		select {
		case m := <-msgs[c1]:
			take(m)
		case m := <-msgs[c2]:
			take(m)
		case <-deadline:
			t.Fatalf("not every message delivered: %v", got)
		}
	}
	for _, id := range []string{"a", "b", "c", "r"} {
		var measured []string
		for _, d := range got[id] {
			if d != "probe" { // probes published before the measured ones may still arrive
				measured = append(measured, d)
			}
		}
		require.Equal(t, []string{"m0", "m1", "m2", "m3", "m4", "end"}, measured, "subscription %s", id)
	}
}

// TestWriteTimeoutClosesStalledReader: a client that stops reading is
// disconnected once a write has waited WriteTimeout, whether its
// subscription runs alone or shared.
func TestWriteTimeoutClosesStalledReader(t *testing.T) {
	for _, mode := range []string{"alone", "shared"} {
		t.Run(mode, func(t *testing.T) {
			opts := &graphqlsub.Options{WriteTimeout: 200 * time.Millisecond, KeepAlive: -1}
			if mode == "shared" {
				opts.ShareSubscriptions = gophers.ShareLive
			}
			e := newEnv(t, opts)
			c := dial(t, e.url, graphqlsub.SubprotocolTransportWS)
			c.init(nil)
			c.send(subscribeMsg("1", `subscription { messages(filter: "big") { data } }`, nil))
			// The first message shows the subscription is live; then the
			// client stops reading while far more than the socket buffers
			// hold is published.
			big := strings.Repeat("x", 64<<10)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			got := make(chan error, 1)
			go func() {
				_, _, err := c.c.Read(context.Background())
				got <- err
			}()
			for live := false; !live; {
				select {
				case err := <-got:
					require.NoError(t, err)
					live = true
				case <-tick.C:
					e.publish(t, "big", "probe")
				}
			}
			for range 400 {
				e.publish(t, "big", big)
			}
			require.Eventually(t, func() bool { return e.h.Active() == 0 }, 10*time.Second, 10*time.Millisecond,
				"the stalled connection is closed")
		})
	}
}
