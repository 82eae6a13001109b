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
	"bufio"
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
)

type result struct {
	N             int     `json:"n"`
	Connected     int     `json:"connected"`
	RSSBeforeKiB  int     `json:"rss_before_kib"`
	RSSIdleKiB    int     `json:"rss_idle_kib"`
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

func run(args []string, out io.Writer) error {
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
		return err
	}
	if err := loopback(*base); err != nil {
		return err
	}
	if *n < 1 || *conns < 1 || *size < 8 || *pubConc < 1 {
		return errors.New("need -n >= 1, -conns >= 1, -size >= 8, -pub-conc >= 1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	clients := make([]pubsubv1connect.PubSubServiceClient, *conns)
	for i := range clients {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: p}
		defer tr.CloseIdleConnections()
		clients[i] = pubsubv1connect.NewPubSubServiceClient(&http.Client{Transport: tr}, *base, connect.WithGRPC())
	}
	r := result{N: *n, Pubs: *pubs, PubConc: *pubConc, Msgs: *msgs}
	r.RSSBeforeKiB = rss(*pid)

	// Open the streams; each counts deliveries and checks the sequence.
	var delivered, bad atomic.Int64
	var wg sync.WaitGroup
	sctx, scancel := context.WithCancel(ctx)
	defer func() { scancel(); wg.Wait() }()
	all := make(chan struct{}, *n)
	for i := range *n {
		st, err := clients[i%*conns].Subscribe(sctx, connect.NewRequest(&pb.SubscribeRequest{Filters: []string{"load/fanout"}}))
		if err != nil {
			return err
		}
		if !st.Receive() {
			return fmt.Errorf("stream %d: %w", i, st.Err())
		}
		r.Connected++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.Close()
			next := uint64(0)
			for st.Receive() {
				d := st.Msg().GetMessage().GetData()
				if len(d) < 8 || binary.BigEndian.Uint64(d) != next {
					bad.Add(1)
				}
				next++
				delivered.Add(1)
				if next == uint64(*msgs) {
					all <- struct{}{}
				}
			}
		}()
	}
	time.Sleep(*idle) // let the server settle before reading its memory
	r.RSSIdleKiB = rss(*pid)
	if r.RSSIdleKiB > 0 {
		r.KiBPerStream = float64(r.RSSIdleKiB-r.RSSBeforeKiB) / float64(r.Connected)
	}

	// Unary throughput (no subscriber on this topic).
	data := make([]byte, *size)
	cpu0 := cpuSeconds(*pid)
	start := time.Now()
	var pwg sync.WaitGroup
	var perr atomic.Value
	var left atomic.Int64
	left.Store(int64(*pubs))
	for w := range *pubConc {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			c := clients[w%*conns]
			for left.Add(-1) >= 0 {
				if _, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "load/unary", Data: data})); err != nil {
					perr.Store(err)
					return
				}
			}
		}()
	}
	pwg.Wait()
	if err, _ := perr.Load().(error); err != nil {
		return err
	}
	r.PubPerSec = float64(*pubs) / time.Since(start).Seconds()
	cpu1 := cpuSeconds(*pid)
	r.ServerUsPerPublish = (cpu1 - cpu0) * 1e6 / float64(*pubs)

	// Fan-out: -msgs messages to every stream.
	start = time.Now()
	for i := range *msgs {
		d := make([]byte, *size)
		binary.BigEndian.PutUint64(d, uint64(i))
		if _, err := clients[0].Publish(ctx, connect.NewRequest(&pb.PublishRequest{Topic: "load/fanout", Data: d})); err != nil {
			return err
		}
	}
	for range r.Connected {
		select {
		case <-all:
		case <-ctx.Done():
			return fmt.Errorf("fan-out incomplete: %d of %d delivered", delivered.Load(), int64(r.Connected**msgs))
		}
	}
	r.FanoutSeconds = time.Since(start).Seconds()
	r.Delivered = delivered.Load()
	r.Expected = int64(r.Connected * *msgs)
	r.Missing = r.Expected - r.Delivered
	r.Dups = bad.Load()
	r.DeliveriesSec = float64(r.Delivered) / r.FanoutSeconds
	if r.Delivered > 0 {
		r.ServerUsPerDelivery = (cpuSeconds(*pid) - cpu1) * 1e6 / float64(r.Delivered)
	}
	return json.NewEncoder(out).Encode(r)
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

// rss reads VmRSS of pid in KiB; 0 without a pid.
func rss(pid int) int {
	if pid <= 0 {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			k, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return k
		}
	}
	return 0
}

// cpuSeconds reads the user+system CPU time of pid; 0 without a pid.
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}
