package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/switchboard-go/switchboard/internal/testenv"
)

// rig is a run's proxies, hubs and worlds.
type rig struct {
	cfg        Config
	amqp, mqtt *world
	hubs       []*hub           // A and B on RabbitMQ, C on Mosquitto
	amqpLinks  []*testenv.Proxy // hub A's and hub B's links to RabbitMQ
	mqttLink   *testenv.Proxy   // hub C's link to Mosquitto
}

// setup starts the fault proxies and the three hubs. close undoes it,
// also after a failure half-way.
func setup(ctx context.Context, cfg Config, run string) (r *rig, err error) {
	r = &rig{cfg: cfg}
	defer func() {
		if err != nil {
			r.close()
			r = nil
		}
	}()
	amqpHost, err := hostOf(cfg.AMQPURL)
	if err != nil {
		return r, err
	}
	for range 2 {
		p, err := testenv.StartProxy(amqpHost)
		if err != nil {
			return r, err
		}
		r.amqpLinks = append(r.amqpLinks, p)
	}
	if r.mqttLink, err = testenv.StartProxy(cfg.MQTTAddr); err != nil {
		return r, err
	}

	aw := &world{name: "amqp", history: true, exchange: "chaos-" + run, topicRoot: "chaos/" + run + "/a",
		forget: cfg.ForgetCursors, moveMQTT: cfg.MoveMQTT, rnd: rand.New(rand.NewPCG(cfg.Seed, 1))}
	mw := &world{name: "mqtt", topicRoot: "chaos/" + run + "/m", rnd: rand.New(rand.NewPCG(cfg.Seed, 2))}
	aw.filter, mw.filter = aw.topicRoot+"/#", mw.topicRoot+"/#"
	r.amqp, r.mqtt = aw, mw
	hl := cfg.HubLogger
	for i, name := range []string{"A", "B"} {
		log := hl.With("hub", name)
		aw.hubs = append(aw.hubs, &hub{name: name, world: aw, log: log,
			dial: amqpDialer(viaProxy(cfg.AMQPURL, r.amqpLinks[i].Addr()), name, log, aw)})
	}
	mw.hubs = []*hub{{name: "C", world: mw, log: hl.With("hub", "C"),
		dial: mqttDialer("mqtt://"+r.mqttLink.Addr(), "chaos-"+run+"-c", hl.With("hub", "C"))}}
	r.hubs = append(append(r.hubs, aw.hubs...), mw.hubs...)
	for _, h := range r.hubs {
		if err := h.start(ctx); err != nil {
			return r, err
		}
	}
	cfg.Logger.Info("hubs up", "run", run, "A", r.hubs[0].httpAddr, "B", r.hubs[1].httpAddr, "C", r.hubs[2].httpAddr)
	return r, nil
}

// close stops the hubs and proxies and deletes the run's RabbitMQ stream
// and exchange.
func (r *rig) close() {
	for _, h := range r.hubs {
		h.stop()
	}
	for _, p := range append(r.amqpLinks, r.mqttLink) {
		if p != nil {
			p.Close()
		}
	}
	if r.amqp != nil {
		cleanupAMQP(r.cfg.AMQPURL, r.amqp.exchange, r.cfg.Logger)
	}
}

// addClients creates the subscribers and publishers of both worlds.
func addClients(cfg Config, run string, aw, mw *world) {
	// Clients. The RabbitMQ world: every kind, PerKind each, all killable
	// (they resume, on the other hub). The Mosquitto world: one of each
	// kind that can be checked without history, not killed (their hub
	// keeps no history, so every reconnect would be a gap by design);
	// they live through the link faults.
	subKinds := []struct {
		kind string
		run  func(context.Context, *subscriber, *hub) error
		mqtt bool // also in the Mosquitto world
	}{
		{"sse", runSSE, true}, {"longpoll", runLongPoll, false}, {"ws", runWS, true},
		{"grpc", runGRPC, true}, {"graphql", runGraphQL, true}, {"mqtt", runMQTT, true},
	}
	for _, k := range subKinds {
		for i := range cfg.PerKind {
			aw.subs = append(aw.subs, &subscriber{name: fmt.Sprintf("a-%s-%d-%s", k.kind, i+1, run), kind: k.kind,
				world: aw, killable: true, run: k.run, t: newTally(aw.started)})
		}
		if k.mqtt {
			mw.subs = append(mw.subs, &subscriber{name: fmt.Sprintf("m-%s-%s", k.kind, run), kind: k.kind,
				world: mw, run: k.run, t: newTally(mw.started)})
		}
	}
	pubKinds := []struct {
		kind string
		dial func(name string) func(context.Context, *hub) (pubConn, error)
	}{
		{"rest", func(string) func(context.Context, *hub) (pubConn, error) { return dialREST }},
		{"ws", func(string) func(context.Context, *hub) (pubConn, error) { return dialWS }},
		{"grpc", func(string) func(context.Context, *hub) (pubConn, error) { return dialGRPC }},
		{"mqtt", func(name string) func(context.Context, *hub) (pubConn, error) {
			return func(ctx context.Context, h *hub) (pubConn, error) { return dialMQTT(ctx, h, name) }
		}},
	}
	for _, k := range pubKinds {
		for i := range cfg.PerKind {
			name := fmt.Sprintf("pa-%s-%d", k.kind, i+1)
			aw.pubs = append(aw.pubs, &publisher{name: name, kind: k.kind, world: aw, topic: aw.topicRoot + "/" + name,
				run: run, dial: k.dial(name + "-" + run)})
		}
		name := "pm-" + k.kind
		mw.pubs = append(mw.pubs, &publisher{name: name, kind: k.kind, world: mw, topic: mw.topicRoot + "/" + name,
			run: run, dial: k.dial(name + "-" + run)})
	}
}
