package main

import (
	"math/rand/v2"
	"sync"
)

// world is a set of hubs sharing one broker, with the clients that use
// them: "amqp" (two hubs on RabbitMQ, with history, so clients move
// between hubs and resume) and "mqtt" (one hub on Mosquitto, no history).
type world struct {
	name      string
	history   bool   // cursors resume on every hub of the world
	exchange  string // amqp: the exchange and queue prefix of this run
	topicRoot string // every topic of the world starts with it
	filter    string // what every subscriber subscribes to
	forget    bool   // Config.ForgetCursors
	moveMQTT  bool   // Config.MoveMQTT
	hubs      []*hub
	subs      []*subscriber
	pubs      []*publisher

	mu  sync.Mutex
	rnd *rand.Rand
}

// started returns, per publisher of the world, the highest sequence
// number whose first attempt began (for tally).
func (w *world) started() map[string]int {
	m := make(map[string]int, len(w.pubs))
	for _, p := range w.pubs {
		m[p.name] = int(p.started.Load())
	}
	return m
}

// pick returns a hub that is up, preferring one other than prev (a
// reconnecting client moves); nil when none is up.
func (w *world) pick(prev *hub) *hub {
	var up []*hub
	for _, h := range w.hubs {
		if h.isUp() && h != prev {
			up = append(up, h)
		}
	}
	if len(up) == 0 && prev != nil && prev.isUp() {
		return prev
	}
	if len(up) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return up[w.rnd.IntN(len(up))]
}
