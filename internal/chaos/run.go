package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Config bounds one chaos run. Zero fields take the defaults of the
// Default* constants.
type Config struct {
	// Duration is how long clients are killed and faults injected (the
	// drain afterwards adds up to DrainTimeout).
	Duration time.Duration
	// Disconnects is how many random client kills are spread over Duration.
	Disconnects int
	// Faults is how many broker-link faults (cut or black hole of a
	// hub↔RabbitMQ or hub↔Mosquitto link) are spread over Duration;
	// negative means none.
	Faults int
	// Restarts is how many hub restarts are added to the faults; negative
	// means none.
	Restarts int
	// Seed makes the choices of clients, faults and pauses repeatable
	// (timing still varies); 0 means 1.
	Seed uint64
	// Interval is each publisher's pause between two publishes.
	Interval time.Duration
	// PerKind is how many clients of each kind the RabbitMQ world runs.
	PerKind int
	// DrainTimeout bounds the wait for the last messages after the chaos.
	DrainTimeout time.Duration
	// ForgetCursors makes killed subscribers reconnect without their
	// cursor, losing what was published meanwhile with no gap signal: a
	// broken client, to show that the checker catches losses.
	ForgetCursors bool
	// MoveMQTT moves reconnecting MQTT subscribers to the other RabbitMQ
	// hub like the others. They have no cursor, so a move to a hub whose
	// RabbitMQ link lags behind (after a fault) can repeat messages they
	// had from the other hub; by default they stay on their hub while it
	// is up (see the package doc).
	MoveMQTT bool
	// AMQPURL and MQTTAddr locate the services (loopback).
	AMQPURL, MQTTAddr string
	// Logger receives the run's progress; nil is silent. HubLogger
	// receives the hubs' and brokers' logs; nil is silent.
	Logger, HubLogger *slog.Logger
}

// Defaults of Config.
const (
	DefaultDuration     = 60 * time.Second
	DefaultDisconnects  = 100
	DefaultFaults       = 4
	DefaultRestarts     = 2
	DefaultInterval     = 100 * time.Millisecond
	DefaultPerKind      = 2
	DefaultDrainTimeout = 45 * time.Second
	DefaultAMQPURL      = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultMQTTAddr     = "127.0.0.1:1883"
)

func (c Config) withDefaults() Config {
	or := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	or(&c.Duration, DefaultDuration)
	or(&c.Interval, DefaultInterval)
	or(&c.DrainTimeout, DefaultDrainTimeout)
	if c.Disconnects <= 0 {
		c.Disconnects = DefaultDisconnects
	}
	if c.Faults == 0 {
		c.Faults = DefaultFaults
	} else if c.Faults < 0 {
		c.Faults = 0
	}
	if c.Restarts == 0 {
		c.Restarts = DefaultRestarts
	} else if c.Restarts < 0 {
		c.Restarts = 0
	}
	if c.PerKind <= 0 {
		c.PerKind = DefaultPerKind
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.AMQPURL == "" {
		c.AMQPURL = DefaultAMQPURL
	}
	if c.MQTTAddr == "" {
		c.MQTTAddr = DefaultMQTTAddr
	}
	if c.Logger == nil {
		c.Logger = discard
	}
	if c.HubLogger == nil {
		c.HubLogger = discard
	}
	return c
}

// Run sets up the hubs, clients and proxies, runs the chaos for
// cfg.Duration, drains, tears everything down and returns the summary.
// Its error is about the setup; the contract's verdict is Summary.OK.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	cfg = cfg.withDefaults()
	log := cfg.Logger
	run := strings.ToLower(pubsub.NewID())
	if len(run) > 10 {
		run = run[:10]
	}

	r, err := setup(ctx, cfg, run)
	if err != nil {
		return nil, err
	}
	defer r.close()
	aw, mw := r.amqp, r.mqtt
	addClients(cfg, run, aw, mw)
	worlds := []*world{aw, mw}

	subCtx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	var subsWG sync.WaitGroup
	for _, w := range worlds {
		for _, s := range w.subs {
			subsWG.Go(func() { s.loop(subCtx) })
		}
	}
	defer subsWG.Wait()
	defer stopSubs()

	if err := barrier(ctx, worlds, 60*time.Second); err != nil {
		return nil, err
	}
	log.Info("every subscriber is live; publishing", "subscribers", len(aw.subs)+len(mw.subs), "publishers", len(aw.pubs)+len(mw.pubs))

	pubCtx, stopPubs := context.WithCancel(ctx)
	defer stopPubs()
	stopNew := make(chan struct{})
	var pubsWG sync.WaitGroup
	for _, w := range worlds {
		for _, p := range w.pubs {
			pubsWG.Go(func() { p.loop(pubCtx, stopNew, cfg.Interval) })
		}
	}

	sum := &Summary{Run: run, Config: cfg}
	start := time.Now()
	chaosCtx, endChaos := context.WithTimeout(ctx, cfg.Duration)
	var chaosWG sync.WaitGroup
	chaosWG.Go(func() { killLoop(chaosCtx, cfg, worlds, sum) })
	chaosWG.Go(func() {
		faultLoop(chaosCtx, ctx, cfg, faultTargets{amqp: r.amqpLinks, amqpHubs: aw.hubs,
			mqtt: r.mqttLink, worlds: worlds}, sum)
	})
	chaosWG.Wait()
	endChaos()
	sum.ChaosTime = time.Since(start)
	log.Info("chaos over; draining", "disconnects", sum.Disconnects.Load(), "faults", sum.LinkFaults.Load())

	// Drain: publishers finish the message in flight, subscribers catch up.
	close(stopNew)
	drainCtx, endDrain := context.WithTimeout(ctx, cfg.DrainTimeout)
	defer endDrain()
	pubsDone := make(chan struct{})
	go func() { pubsWG.Wait(); close(pubsDone) }()
	select {
	case <-pubsDone:
	case <-drainCtx.Done():
		stopPubs()
		<-pubsDone
	}
	waitCaughtUp(drainCtx, worlds)
	sum.DrainTime = time.Since(start) - sum.ChaosTime
	stopSubs()
	subsWG.Wait()
	sum.settle(worlds)
	return sum, nil
}

// barrier publishes barrier messages into each world until every
// subscriber has received one: from then on its subscription is live.
func barrier(ctx context.Context, worlds []*world, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for n := 1; ; n++ {
		var waiting []*subscriber
		for _, w := range worlds {
			h := w.hubs[0]
			data := fmt.Appendf(nil, `{"p":%q,"s":%d}`, barrierName, n)
			h.mu.Lock()
			b := h.broker
			h.mu.Unlock()
			_, _ = b.Publish(ctx, pubsub.Message{Topic: w.topicRoot + "/" + barrierName, Data: data})
			for _, s := range w.subs {
				if !s.t.live() {
					waiting = append(waiting, s)
				}
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			// What kept each from going live.
			names := make([]string, len(waiting))
			for i, s := range waiting {
				names[i] = fmt.Sprintf("%s (%d sessions, %d failed", s.name, s.sessions.Load(), s.failures.Load())
				if e, _ := s.lastError.Load().(string); e != "" {
					names[i] += ", last: " + e
				}
				names[i] += ")"
			}
			return fmt.Errorf("subscribers not live after %v: %s", limit, strings.Join(names, ", "))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitCaughtUp waits until every subscriber has every acknowledged message
// (or a gap explains it), or ctx ends.
func waitCaughtUp(ctx context.Context, worlds []*world) {
	for {
		done := true
		for _, w := range worlds {
			for _, s := range w.subs {
				for _, p := range w.pubs {
					if n := int(p.acked.Load()); n > 0 && !s.t.has(p.name, n) {
						done = false
					}
				}
			}
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// killLoop kills random clients, Disconnects of them spread over the run.
func killLoop(ctx context.Context, cfg Config, worlds []*world, sum *Summary) {
	rnd := rand.New(rand.NewPCG(cfg.Seed, 3))
	type target struct {
		kill func() bool
		kind string
	}
	var targets []target
	for _, w := range worlds {
		for _, s := range w.subs {
			if s.killable {
				targets = append(targets, target{s.kill, "sub " + s.kind})
			}
		}
		for _, p := range w.pubs {
			targets = append(targets, target{p.kill, "pub " + p.kind})
		}
	}
	every := cfg.Duration / time.Duration(cfg.Disconnects+1)
	start := time.Now()
	for i := range cfg.Disconnects {
		// Kill i at (i+1)·every, give or take half of every: all of them
		// fall within the run.
		at := time.Duration(i+1)*every - every/2 + time.Duration(rnd.Int64N(int64(every)+1))
		if sleep(ctx, time.Until(start.Add(at))); ctx.Err() != nil {
			return
		}
		for range 10 { // a client without a connection or cursor yet: pick another
			t := targets[rnd.IntN(len(targets))]
			if t.kill() {
				sum.disconnect(t.kind)
				break
			}
		}
	}
}

// inject breaks what kind says for d, then repairs it (hard is the run's
// own context: a repair is not skipped when the chaos ends).
func inject(hard context.Context, kind string, which int, d time.Duration, ft faultTargets, sum *Summary) {
	switch kind {
	case "cut-amqp", "blackhole-amqp", "cut-mqtt", "blackhole-mqtt":
		p := ft.mqtt
		if strings.HasSuffix(kind, "amqp") {
			p = ft.amqp[which]
		}
		if strings.HasPrefix(kind, "cut") {
			p.Cut()
		} else {
			p.BlackHole()
		}
		sleep(hard, d)
		p.Restore()
	case "restart-hub", "crash-hub":
		h := ft.amqpHubs[which]
		if kind == "crash-hub" {
			h.crash()
		} else {
			h.stop()
		}
		// Clients of the stopped hub move to the other one (a load
		// balancer would send them there).
		for _, w := range ft.worlds {
			for _, s := range w.subs {
				s.killOn(h)
			}
			for _, p := range w.pubs {
				p.killOn(h)
			}
		}
		sleep(hard, d)
		for hard.Err() == nil {
			err := h.start(hard)
			if err == nil {
				break
			}
			sum.note("restart of hub %s failed, retrying: %v", h.name, err)
			sleep(hard, time.Second)
		}
	}
}

// faultTargets is what faultLoop breaks.
type faultTargets struct {
	amqp     []*testenv.Proxy // hub A's and hub B's links to RabbitMQ
	amqpHubs []*hub
	mqtt     *testenv.Proxy // hub C's link to Mosquitto
	worlds   []*world
}

// faultLoop injects cfg.Faults link faults and cfg.Restarts hub restarts,
// one at a time, spread over the run. Every fault is repaired before it
// returns, even when ctx ends first (hard is the run's own context).
func faultLoop(ctx, hard context.Context, cfg Config, ft faultTargets, sum *Summary) {
	rnd := rand.New(rand.NewPCG(cfg.Seed, 4))
	n := cfg.Faults + cfg.Restarts
	if n == 0 {
		return
	}
	plan := make([]string, 0, n)
	kinds := []string{"cut-amqp", "blackhole-amqp", "cut-mqtt", "blackhole-mqtt"}
	for i := range cfg.Faults {
		plan = append(plan, kinds[i%len(kinds)])
	}
	for range cfg.Restarts {
		plan = append(plan, "restart-hub")
	}
	rnd.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	slot := cfg.Duration / time.Duration(n)
	start := time.Now()
	restarts := 0
	for i, kind := range plan {
		// Each fault starts in the first part of its slot, so it has ended
		// before the next one starts (and before the run's end).
		begin := time.Duration(i)*slot + time.Duration(rnd.Int64N(int64(slot)/4+1))
		if sleep(ctx, time.Until(start.Add(begin))); ctx.Err() != nil {
			return
		}
		// A fault lasts up to half its slot: cuts 1–3 s, black holes 3–8 s
		// (longer than the 2 s heartbeats need to notice).
		var d time.Duration
		switch {
		case strings.HasPrefix(kind, "cut"):
			d = time.Second + time.Duration(rnd.Int64N(int64(2*time.Second)))
		case strings.HasPrefix(kind, "blackhole"):
			d = 3*time.Second + time.Duration(rnd.Int64N(int64(5*time.Second)))
		default:
			d = 500*time.Millisecond + time.Duration(rnd.Int64N(int64(1500*time.Millisecond)))
		}
		d = min(d, slot/2)
		which := rnd.IntN(2)
		cfg.Logger.Info("fault", "kind", kind, "for", d.Round(time.Millisecond), "hub", map[bool]string{true: "C", false: ft.amqpHubs[which].name}[strings.HasSuffix(kind, "mqtt")])
		if kind == "restart-hub" {
			if restarts++; restarts%2 == 0 {
				kind = "crash-hub" // every other restart is abrupt
			}
		}
		inject(hard, kind, which, d, ft, sum)
		sum.fault(kind)
	}
}

// viaProxy rewrites the host of an AMQP URL to the proxy's address.
func viaProxy(amqpURL, proxyAddr string) string {
	host, _ := hostOf(amqpURL)
	return strings.Replace(amqpURL, host, proxyAddr, 1)
}

func hostOf(amqpURL string) (string, error) {
	_, rest, ok := strings.Cut(amqpURL, "://")
	if !ok {
		return "", fmt.Errorf("chaos: not a URL: %q", amqpURL)
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	host, _, _ := strings.Cut(rest, "/")
	if host == "" {
		return "", errors.New("chaos: no host in the AMQP URL")
	}
	return host, nil
}

// cleanupAMQP deletes the run's history stream and exchange (a Broker
// never deletes them: they are shared).
func cleanupAMQP(url, exchange string, log *slog.Logger) {
	conn, err := amqp.Dial(url)
	if err != nil {
		log.Warn("cleanup: cannot reach RabbitMQ", "err", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	if _, err := ch.QueueDelete(exchange+".history", false, false, false); err != nil {
		log.Warn("cleanup: history stream", "err", err)
		if ch, err = conn.Channel(); err != nil {
			return
		}
	}
	if err := ch.ExchangeDelete(exchange, false, false); err != nil {
		log.Warn("cleanup: exchange", "err", err)
	}
}

// loopback reports whether host:port names this machine.
func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
