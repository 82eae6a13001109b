// Command grpcload is a bounded, loopback-only load program for grpcx: it
// opens -n Subscribe streams over h2c (gRPC protocol, -conns connections),
// measures the server's memory per idle stream from /proc/PID/status,
// measures unary Publish throughput, then publishes -msgs messages and
// measures their delivery to every stream (missing, duplicates, order).
// It prints one JSON line.
//
//	go run ./grpcx/internal/grpcload -url http://127.0.0.1:8080 -n 1000 -server-pid $PID
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/internal/procstat"
)

type result struct {
	N             int     `json:"n"`
	Connected     int     `json:"connected"`
	RSSBeforeKiB  int64   `json:"rss_before_kib"`
	RSSIdleKiB    int64   `json:"rss_idle_kib"`
	KiBPerStream  float64 `json:"kib_per_stream"`
	Pubs          int     `json:"pubs"`
	PubConc       int     `json:"pub_conc"`
	PubPerSec     float64 `json:"unary_publish_per_s"`
	Msgs          int     `json:"msgs"`
	Delivered     int64   `json:"delivered"`
	Expected      int64   `json:"expected"`
	Missing       int64   `json:"missing"`
	Dups          int64   `json:"dups_or_reordered"`
	FanoutSeconds float64 `json:"fanout_s"`
	DeliveriesSec float64 `json:"deliveries_per_s"`
	// Server CPU (user+system) per operation, from /proc/PID/stat: less
	// sensitive than rates to other load on the machine.
	ServerUsPerPublish  float64 `json:"server_cpu_us_per_publish"`
	ServerUsPerDelivery float64 `json:"server_cpu_us_per_delivery"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "grpcload:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	base                          string
	n, conns, pubs, pubConc, msgs int
	size, pid                     int
	idle, timeout                 time.Duration
}

// parseArgs reads the command line and checks it: a loopback target and
// at least one stream, connection and publisher.
func parseArgs(args []string) (config, error) {
	fs := flag.NewFlagSet("grpcload", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "server base URL (loopback only)")
	n := fs.Int("n", 1000, "Subscribe streams")
	conns := fs.Int("conns", 10, "HTTP/2 connections the streams share")
	pubs := fs.Int("pubs", 20000, "unary publishes for the throughput phase")
	pubConc := fs.Int("pub-conc", 8, "concurrent unary publishers")
	msgs := fs.Int("msgs", 200, "messages fanned out to every stream")
	size := fs.Int("size", 256, "payload bytes")
	pid := fs.Int("server-pid", 0, "server process to measure (0: no memory figures)")
	idle := fs.Duration("idle", 3*time.Second, "wait before reading the idle memory")
	timeout := fs.Duration("timeout", 120*time.Second, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if err := loopback(*base); err != nil {
		return config{}, err
	}
	if *n < 1 || *conns < 1 || *size < 8 || *pubConc < 1 {
		return config{}, errors.New("need -n >= 1, -conns >= 1, -size >= 8, -pub-conc >= 1")
	}
	return config{base: *base, n: *n, conns: *conns, pubs: *pubs, pubConc: *pubConc, msgs: *msgs,
		size: *size, pid: *pid, idle: *idle, timeout: *timeout}, nil
}

// run measures the server the command line names and writes the report
// to out: idle memory per stream, unary publish throughput, fan-out.
func run(args []string, out io.Writer) error {
	cfg, err := parseArgs(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	clients, closeIdle := newClients(cfg)
	defer closeIdle()
	r := result{N: cfg.n, Pubs: cfg.pubs, PubConc: cfg.pubConc, Msgs: cfg.msgs}
	r.RSSBeforeKiB = procstat.RSSKiB(cfg.pid)

	sctx, scancel := context.WithCancel(ctx)
	s := &streams{all: make(chan struct{}, cfg.n)}
	defer func() { scancel(); s.wg.Wait() }()
	if err := s.open(sctx, clients, cfg, &r); err != nil {
		return err
	}
	time.Sleep(cfg.idle) // let the server settle before reading its memory
	r.RSSIdleKiB = procstat.RSSKiB(cfg.pid)
	if r.RSSIdleKiB > 0 {
		r.KiBPerStream = float64(r.RSSIdleKiB-r.RSSBeforeKiB) / float64(r.Connected)
	}

	// Unary throughput (no subscriber on this topic).
	cpu0 := procstat.CPUSeconds(cfg.pid)
	start := time.Now()
	if err := publishUnary(ctx, clients, cfg); err != nil {
		return err
	}
	r.PubPerSec = float64(cfg.pubs) / time.Since(start).Seconds()
	cpu1 := procstat.CPUSeconds(cfg.pid)
	r.ServerUsPerPublish = (cpu1 - cpu0) * 1e6 / float64(cfg.pubs)

	// Fan-out: -msgs messages to every stream.
	start = time.Now()
	if err := fanOut(ctx, clients[0], s, cfg, r.Connected); err != nil {
		return err
	}
	r.fanoutFigures(s, cfg, start, cpu1)
	return json.NewEncoder(out).Encode(r)
}

// newClients returns one gRPC client per HTTP/2 connection (-conns), and
// a function that closes their idle connections.
func newClients(cfg config) ([]pubsubv1connect.PubSubServiceClient, func()) {
	clients := make([]pubsubv1connect.PubSubServiceClient, cfg.conns)
	transports := make([]*http.Transport, cfg.conns)
	for i := range clients {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		transports[i] = &http.Transport{Protocols: p}
		clients[i] = pubsubv1connect.NewPubSubServiceClient(&http.Client{Transport: transports[i]}, cfg.base, connect.WithGRPC())
	}
	return clients, func() {
		for _, tr := range transports {
			tr.CloseIdleConnections()
		}
	}
}

// publishUnary sends -pubs unary publishes from -pub-conc workers and
// returns the first error one met.
func publishUnary(ctx context.Context, clients []pubsubv1connect.PubSubServiceClient, cfg config) error {
	data := make([]byte, cfg.size)
	var pwg sync.WaitGroup
	var perr atomic.Value
	var left atomic.Int64
	left.Store(int64(cfg.pubs))
	for w := range cfg.pubConc {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			c := clients[w%cfg.conns]
			for left.Add(-1) >= 0 {
				if _, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "load/unary", Data: data})); err != nil {
					perr.Store(err)
					return
				}
			}
		}()
	}
	pwg.Wait()
	err, _ := perr.Load().(error)
	return err
}

// fanOut publishes -msgs numbered messages and waits until each of the
// connected streams has received them all.
func fanOut(ctx context.Context, c pubsubv1connect.PubSubServiceClient, s *streams, cfg config, connected int) error {
	for i := range cfg.msgs {
		d := make([]byte, cfg.size)
		binary.BigEndian.PutUint64(d, uint64(i))
		if _, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "load/fanout", Data: d})); err != nil {
			return err
		}
	}
	for range connected {
		select {
		case <-s.all:
		case <-ctx.Done():
			return fmt.Errorf("fan-out incomplete: %d of %d delivered", s.delivered.Load(), int64(connected*cfg.msgs))
		}
	}
	return nil
}

// fanoutFigures fills in the fan-out report: timed from start, with the
// server's CPU counted from cpuBefore.
func (r *result) fanoutFigures(s *streams, cfg config, start time.Time, cpuBefore float64) {
	r.FanoutSeconds = time.Since(start).Seconds()
	r.Delivered = s.delivered.Load()
	r.Expected = int64(r.Connected * cfg.msgs)
	r.Missing = r.Expected - r.Delivered
	r.Dups = s.bad.Load()
	r.DeliveriesSec = float64(r.Delivered) / r.FanoutSeconds
	if r.Delivered > 0 {
		r.ServerUsPerDelivery = (procstat.CPUSeconds(cfg.pid) - cpuBefore) * 1e6 / float64(r.Delivered)
	}
}

// loopback refuses targets that are not on this machine.
func loopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("refusing non-loopback target %s", base)
		}
	}
	return nil
}
