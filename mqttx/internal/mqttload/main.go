// Command mqttload measures an MQTT server on loopback: it opens -subs
// subscriber connections (MQTT 3.1.1, filter -filter, QoS -qos), reads the
// server's memory once they are idle, then -pubs publisher connections each
// publish -msgs messages of -size bytes (QoS 1: each waits for its PUBACK;
// QoS 0: as fast as the socket takes them), and it reports one JSON line:
// publish rate, delivery rate, latency quantiles, missing and duplicate
// deliveries, and the server's RSS per idle connection.
//
//	go run ./mqttx/internal/mqttload -addr 127.0.0.1:1884 -subs 1000 -pubs 100 -msgs 20 -server-pid $PID
//
// It is a measuring tool, not a test: no pass/fail.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/switchboard-go/switchboard/internal/procstat"
)

func main() {
	cfg := parseFlags()
	r := run(cfg)
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

// config is the command line.
type config struct {
	addr                   string
	subs, pubs, msgs, size int
	qos                    byte
	topic, filter          string
	idle, drain            time.Duration
	pid                    int
}

// parseFlags reads the command line; a -addr that is not a loopback
// host:port exits with status 2, and -size is raised to 16.
func parseFlags() config {
	addr := flag.String("addr", "127.0.0.1:1883", "MQTT server (loopback)")
	subs := flag.Int("subs", 1000, "subscriber connections")
	pubs := flag.Int("pubs", 100, "publisher connections")
	msgs := flag.Int("msgs", 20, "messages per publisher")
	size := flag.Int("size", 64, "payload bytes (at least 16)")
	qos := flag.Int("qos", 1, "QoS of subscriptions and publishes (0 or 1)")
	topic := flag.String("topic", "bench/t", "topic to publish to")
	filter := flag.String("filter", "bench/#", "subscription filter")
	idle := flag.Duration("idle", 3*time.Second, "wait after connecting before reading memory")
	drain := flag.Duration("drain", 10*time.Second, "give up waiting for deliveries after this long without one")
	pid := flag.Int("server-pid", 0, "server process for RSS figures (0: none)")
	flag.Parse()
	if h, _, err := net.SplitHostPort(*addr); err != nil || !(h == "127.0.0.1" || h == "localhost" || h == "::1") {
		fmt.Fprintln(os.Stderr, "mqttload: -addr must be a loopback host:port")
		os.Exit(2)
	}
	if *size < 16 {
		*size = 16
	}
	return config{addr: *addr, subs: *subs, pubs: *pubs, msgs: *msgs, size: *size, qos: byte(*qos),
		topic: *topic, filter: *filter, idle: *idle, drain: *drain, pid: *pid}
}

// result is the JSON line mqttload prints.
type result struct {
	Subs, Pubs, Msgs, Size, QoS int
	Connected                   int
	RSSBeforeKiB, RSSIdleKiB    int64
	KiBPerConn                  float64
	Published                   int
	PubElapsedS                 float64
	PubMsgsPerS                 float64
	Expected, Delivered         int64
	Missing, Dups               int64
	ElapsedS                    float64
	DeliveriesPerS              float64
	LatP50Ms, LatP99Ms, LatMax  float64
	Errors                      []string `json:",omitempty"`
}

// run measures the server at cfg.addr: subscribers, idle memory, the
// publish phase, then the deliveries.
func run(cfg config) result {
	res := result{Subs: cfg.subs, Pubs: cfg.pubs, Msgs: cfg.msgs, Size: cfg.size, QoS: int(cfg.qos)}
	l := newLoad(cfg)
	res.RSSBeforeKiB = procstat.RSSKiB(cfg.pid)
	subConns := l.subscribe()
	res.Connected = len(subConns)
	time.Sleep(cfg.idle) // let the server settle before reading its memory
	res.RSSIdleKiB = procstat.RSSKiB(cfg.pid)
	if res.Connected > 0 && cfg.pid != 0 {
		res.KiBPerConn = float64(res.RSSIdleKiB-res.RSSBeforeKiB) / float64(res.Connected)
	}

	pubConns := l.dialPublishers()
	start := time.Now()
	res.Published = l.publish(pubConns)
	res.PubElapsedS = time.Since(start).Seconds()
	res.PubMsgsPerS = float64(res.Published) / res.PubElapsedS
	res.Expected = int64(res.Published) * int64(res.Connected)

	l.awaitDeliveries(start, res.Expected)
	l.countDeliveries(&res, start)
	for _, c := range append(subConns, pubConns...) {
		_ = c.c.Close()
	}
	l.readers.Wait()
	res.LatP50Ms, res.LatP99Ms, res.LatMax = latencyQuantiles(l.lat)
	res.Errors = l.errs.first()
	return res
}

// countDeliveries fills in the delivery figures, timed from start to the
// last delivery.
func (l *load) countDeliveries(res *result, start time.Time) {
	end := time.Unix(0, l.lastDelivery.Load())
	res.Delivered = l.delivered.Load()
	res.Dups = l.dups.Load()
	res.Missing = res.Expected - (res.Delivered - res.Dups)
	if l.lastDelivery.Load() > 0 {
		res.ElapsedS = end.Sub(start).Seconds()
	}
	if res.ElapsedS > 0 {
		res.DeliveriesPerS = float64(res.Delivered) / res.ElapsedS
	}
}

// latencyQuantiles returns the median, 99th percentile and maximum of all
// subscribers' latencies in milliseconds; zeros when there are none.
func latencyQuantiles(lat [][]time.Duration) (p50, p99, maxMs float64) {
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return 0, 0, 0
	}
	slices.Sort(all)
	q := func(f float64) float64 { return float64(all[int(f*float64(len(all)-1))].Microseconds()) / 1000 }
	return q(0.5), q(0.99), q(1)
}
