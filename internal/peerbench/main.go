// Command peerbench measures Switchboard's SSE and WebSocket handlers side by
// side with centrifuge and Mercure on this machine, with its own load
// generator, and writes results.md, results.png and results.json.
//
//	cd internal/peerbench && go run .
//
// See README.md for what is measured and the flags for the full sizes.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-go/switchboard/internal/procstat"
)

type config struct {
	Rounds       int
	Servers      []string
	IdleConns    int
	IdleSettle   time.Duration
	FanoutSubs   int
	FanoutMsgs   int
	Window       int
	LatencySubs  int
	LatencyRate  int
	LatencyDur   time.Duration
	Size         int
	SrcIPs       int
	Drain        time.Duration
	QuietLoad    float64
	QuietCPU     float64
	QuietWait    time.Duration
	QuietEach    time.Duration
	Settle       time.Duration
	PhaseTimeout time.Duration
	Out          string
	Readme       string
	Phases       []string
	Transports   []string
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "serve" {
		if err := serve(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
			os.Exit(1)
		}
		return
	}
	var c config
	var servers, phases, transports string
	flag.IntVar(&c.Rounds, "rounds", 2, "rounds; the servers' order alternates from one round to the next, and the table shows the median")
	flag.StringVar(&servers, "servers", "switchboard,centrifuge,mercure", "servers to measure")
	flag.StringVar(&phases, "phases", "idle,fanout,latency", "measurements to run")
	flag.StringVar(&transports, "transports", "sse,ws,grpc,graphql", "transports to measure: sse, ws, grpc, graphql (grpc and graphql: Switchboard only)")
	flag.IntVar(&c.IdleConns, "idle-conns", 2000, "idle connections for memory per connection (the issue's size: 10000)")
	flag.DurationVar(&c.IdleSettle, "idle-settle", 5*time.Second, "wait after the last idle connection before reading the server's memory")
	flag.IntVar(&c.FanoutSubs, "fanout-subs", 1000, "subscribers in the max-rate fan-out")
	flag.IntVar(&c.FanoutMsgs, "fanout-msgs", 500, "messages published in the max-rate fan-out")
	flag.IntVar(&c.Window, "window", 64, "max-rate fan-out: the publisher stays at most this many messages ahead of the average subscriber (0: no window)")
	flag.IntVar(&c.LatencySubs, "latency-subs", 1000, "subscribers in the latency measurement")
	flag.IntVar(&c.LatencyRate, "latency-rate", 20, "messages per second in the latency measurement")
	flag.DurationVar(&c.LatencyDur, "latency-duration", 5*time.Second, "how long the latency measurement publishes")
	flag.IntVar(&c.Size, "size", 256, "payload size in bytes")
	flag.IntVar(&c.SrcIPs, "src-ips", 8, "source addresses 127.0.0.1…127.0.0.N (each has ~28,000 ephemeral ports)")
	flag.DurationVar(&c.Drain, "drain", 5*time.Second, "after the last publish, wait this long without a new delivery before counting the rest as lost")
	flag.Float64Var(&c.QuietLoad, "quiet-load", 1.0, "before starting, wait until the 1-minute load average is at most this")
	flag.Float64Var(&c.QuietCPU, "quiet-cpu", 0.25, "before each measurement, wait until the machine's CPUs are busy at most this fraction over one second")
	flag.DurationVar(&c.QuietWait, "quiet-wait", 30*time.Minute, "longest wait for the load average at the start; the run goes on after it, and says so in the results")
	flag.DurationVar(&c.QuietEach, "quiet-each", time.Minute, "longest wait for quiet CPUs before each measurement")
	flag.DurationVar(&c.Settle, "settle", time.Second, "wait after a server started before reading its baseline memory")
	flag.DurationVar(&c.PhaseTimeout, "timeout", 3*time.Minute, "bound on one measurement")
	flag.StringVar(&c.Out, "out", ".", "directory for results.md, results.png and results.json")
	flag.StringVar(&c.Readme, "readme", "../../README.md", "README whose peerbench block (between <!-- peerbench:begin --> and <!-- peerbench:end -->) gets the table; empty: none")
	flag.Parse()
	c.Servers = strings.Split(servers, ",")
	c.Phases = strings.Split(phases, ",")
	c.Transports = strings.Split(transports, ",")
	limit := raiseFDLimit()
	if need := max(c.IdleConns, c.FanoutSubs, c.LatencySubs) + 256; need > limit {
		fmt.Fprintf(os.Stderr, "peerbench: %d connections need about %d file descriptors in this process and in the server, but RLIMIT_NOFILE is %d and cannot be raised here (raise the hard limit first: ulimit -Hn, or LimitNOFILE in systemd)\n", need-256, need, limit)
		os.Exit(2)
	}
	if err := bench(c); err != nil {
		fmt.Fprintln(os.Stderr, "peerbench:", err)
		os.Exit(1)
	}
}

func bench(c config) error {
	info := machineInfo()
	info.Command = "go run ."
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " '\"") {
			a = "'" + a + "'"
		}
		info.Command += " " + a
	}
	fmt.Fprintf(os.Stderr, "peerbench: %s, %s (%d cores), commit %s\n", info.Date, info.CPU, info.Cores, info.Commit)
	info.QuietAtStart = waitLoad(c.QuietLoad, c.QuietWait)
	var all []result
	for round := range c.Rounds {
		order := slices.Clone(c.Servers)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, phase := range c.Phases {
			for _, srv := range order {
				for _, t := range targets() {
					if t.Server != srv || !slices.Contains(c.Transports, t.Transport) {
						continue
					}
					busy := waitCPU(c.QuietCPU, c.QuietEach)
					res, err := measure(c, t, phase)
					res.Round, res.BusyBefore = round+1, busy
					if err != nil {
						res.Error = err.Error()
						fmt.Fprintf(os.Stderr, "  %s/%s %s: %v\n", t.Server, t.Transport, phase, err)
					}
					fmt.Fprintf(os.Stderr, "round %d %-11s %-3s %-7s %s\n", round+1, t.Server, t.Transport, phase, res.summary())
					all = append(all, res)
				}
			}
		}
	}
	return writeResults(c, info, all)
}

// A result is one measurement of one server transport.
type result struct {
	Server, Transport, Phase string
	Round                    int
	BusyBefore               float64 // machine CPU busy fraction just before
	N, Connected, Failed     int
	Live                     int // subscribers that received the warm-up probe
	Ended                    int // connections the server ended before teardown
	ConnectSeconds           float64
	RSSBeforeKiB, RSSIdleKiB int64
	KiBPerConn               float64 // per connection; for gRPC, per stream
	HTTPConns                int     `json:",omitempty"` // gRPC: HTTP/2 connections carrying the streams
	KiBPerHTTPConn           float64 `json:",omitempty"` // gRPC: per HTTP/2 connection
	Msgs, PubOK, PubErrors   int
	Expected, Unique         int64
	Lost, Dups, Foreign      int64
	Elapsed                  float64 // first publish → last first-time delivery
	DeliveriesPerSec         float64
	ServerCPUSeconds         float64
	LoadgenCPUSeconds        float64 // this process over the same span
	CPUPerDeliveryUS         float64
	P50ms, P99ms, MaxMS      float64
	Error                    string `json:",omitempty"`
}

func (r result) summary() string {
	switch r.Phase {
	case "idle":
		if r.HTTPConns > 0 {
			return fmt.Sprintf("streams %d/%d live %d  %.1f KiB/stream, %.0f KiB per HTTP/2 connection of up to %d streams (%d connections; rss %d→%d KiB, connect %.1fs)", r.Connected, r.N, r.Live, r.KiBPerConn, r.KiBPerHTTPConn, streamsPerConn, r.HTTPConns, r.RSSBeforeKiB, r.RSSIdleKiB, r.ConnectSeconds)
		}
		return fmt.Sprintf("conns %d/%d live %d  %.1f KiB/conn  (rss %d→%d KiB, connect %.1fs)", r.Connected, r.N, r.Live, r.KiBPerConn, r.RSSBeforeKiB, r.RSSIdleKiB, r.ConnectSeconds)
	case "fanout":
		return fmt.Sprintf("subs %d  %.0f deliveries/s  %.2f µs CPU/delivery (server %.2f s, load generator %.2f s)  lost %d dups %d", r.Live, r.DeliveriesPerSec, r.CPUPerDeliveryUS, r.ServerCPUSeconds, r.LoadgenCPUSeconds, r.Lost, r.Dups)
	default:
		return fmt.Sprintf("subs %d  p50 %.2f  p99 %.2f  max %.2f ms  lost %d dups %d", r.Live, r.P50ms, r.P99ms, r.MaxMS, r.Lost, r.Dups)
	}
}

// server is one running child process.
type server struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func startServer(name string) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve", name)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	select {
	case l, ok := <-lines:
		if a, found := strings.CutPrefix(l, "LISTEN "); ok && found {
			s.addr = a
			return s, nil
		}
		s.stop()
		return nil, fmt.Errorf("server %s did not start (said %q)", name, l)
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("server %s did not start in 30 s", name)
	}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// publisher sends one message per request over one keep-alive connection.
type publisher struct {
	t    target
	url  string
	hc   *http.Client
	size int
}

func newPublisher(t target, addr string, size int) *publisher {
	return &publisher{t: t, url: "http://" + addr + t.PubPath, size: size,
		hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}}
}

func (p *publisher) publish(ctx context.Context, seq, ph int) error {
	body := p.t.PubBody(makePayload(seq, ph, p.size))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", p.t.PubType)
	if p.t.PubAuth != "" {
		req.Header.Set("Authorization", p.t.PubAuth)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("publish: status %d", resp.StatusCode)
	}
	return nil
}

func (p *publisher) close() { p.hc.CloseIdleConnections() }

// warmUp publishes probes (ph 0) every 200 ms until every subscriber still
// connected received one, or 20 s passed; it returns how many did.
func warmUp(ctx context.Context, r *run, p *publisher) int {
	deadline := time.Now().Add(20 * time.Second)
	for {
		live, pending := 0, 0
		for _, s := range r.subs {
			switch {
			case s.warm.Load():
				live++
			case !s.ended.Load():
				pending++
			}
		}
		if pending == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return live
		}
		_ = p.publish(ctx, 0, 0)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func measure(c config, t target, phase string) (res result, err error) {
	res = result{Server: t.Server, Transport: t.Transport, Phase: phase}
	srv, err := startServer(t.Server)
	if err != nil {
		return res, err
	}
	defer srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), c.PhaseTimeout)
	defer cancel()
	r := &run{}
	r.ctx, r.cancel = context.WithCancel(ctx)
	defer r.close()
	p := newPublisher(t, srv.addr, c.Size)
	defer p.close()

	switch phase {
	case "idle":
		res.N = c.IdleConns
	case "fanout":
		res.N, res.Msgs = c.FanoutSubs, c.FanoutMsgs
	case "latency":
		res.N, res.Msgs = c.LatencySubs, int(float64(c.LatencyRate)*c.LatencyDur.Seconds())
		r.recLat = true
	default:
		return res, fmt.Errorf("unknown phase %q", phase)
	}
	r.msgs = res.Msgs

	time.Sleep(c.Settle) // let the fresh process settle before its baseline
	res.RSSBeforeKiB = procstat.RSSKiB(srv.pid())
	t0 := time.Now()
	failed, ferr := r.connectAll(t, srv.addr, res.N, c.SrcIPs, 15*time.Second)
	res.ConnectSeconds = time.Since(t0).Seconds()
	res.Failed, res.Connected = failed, len(r.subs)
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "  %d connections failed: %v\n", failed, ferr)
	}
	if res.Connected == 0 {
		return res, fmt.Errorf("no connection: %v", ferr)
	}

	if phase == "idle" {
		time.Sleep(c.IdleSettle)
		res.RSSIdleKiB = procstat.RSSKiB(srv.pid())
		res.KiBPerConn = float64(res.RSSIdleKiB-res.RSSBeforeKiB) / float64(res.Connected)
		if n := r.grpc.count(); n > 0 {
			res.HTTPConns = n
			res.KiBPerHTTPConn = float64(res.RSSIdleKiB-res.RSSBeforeKiB) / float64(n)
		}
		res.Live = warmUp(ctx, r, p) // every idle stream still delivers
		res.Ended = countEnded(r)
		return res, nil
	}

	res.Live = warmUp(ctx, r, p)
	live := int64(res.Live)
	cpu0, own0 := procstat.CPUSeconds(srv.pid()), procstat.CPUSeconds(os.Getpid())
	start := nowNS()
	interval := time.Duration(0)
	if phase == "latency" {
		interval = time.Second / time.Duration(c.LatencyRate)
	}
	for i := range res.Msgs {
		if interval > 0 {
			if d := time.Until(t0Add(start, time.Duration(i)*interval)); d > 0 {
				time.Sleep(d)
			}
		} else if c.Window > 0 {
			// Stay within Window messages of the average subscriber.
			for r.unique.Load() < int64(i-c.Window)*live && ctx.Err() == nil {
				time.Sleep(100 * time.Microsecond)
			}
		}
		if err := p.publish(ctx, i, 1); err != nil {
			res.PubErrors++
			continue
		}
		res.PubOK++
	}
	// Wait for every live subscriber to have every published message, or
	// for Drain without progress.
	want := live * int64(res.PubOK)
	lastSeen, lastChange := r.unique.Load(), time.Now()
	for ctx.Err() == nil {
		u := r.unique.Load()
		if u >= want {
			break
		}
		if u != lastSeen {
			lastSeen, lastChange = u, time.Now()
		} else if time.Since(lastChange) > c.Drain {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cpu1, own1 := procstat.CPUSeconds(srv.pid()), procstat.CPUSeconds(os.Getpid())
	end := r.last.Load()
	r.close()

	res.Expected = want
	var lats []int64
	for _, s := range r.subs {
		if !s.warm.Load() {
			continue
		}
		res.Unique += s.uniq
		res.Dups += s.dups
		res.Foreign += s.foreign
		lats = append(lats, s.lat...)
	}
	res.Lost = want - res.Unique
	res.Ended = countEnded(r)
	if end > start {
		res.Elapsed = float64(end-start) / 1e9
		res.DeliveriesPerSec = float64(res.Unique+res.Dups) / res.Elapsed
	}
	res.ServerCPUSeconds, res.LoadgenCPUSeconds = cpu1-cpu0, own1-own0
	if n := res.Unique + res.Dups; n > 0 {
		res.CPUPerDeliveryUS = res.ServerCPUSeconds / float64(n) * 1e6
	}
	if len(lats) > 0 {
		slices.Sort(lats)
		q := func(f float64) float64 { return float64(lats[min(len(lats)-1, int(f*float64(len(lats))))]) / 1e6 }
		res.P50ms, res.P99ms, res.MaxMS = q(0.50), q(0.99), float64(lats[len(lats)-1])/1e6
	}
	if ctx.Err() != nil {
		return res, errors.New("measurement timed out")
	}
	return res, nil
}

func t0Add(startNS int64, d time.Duration) time.Time {
	return clockBase.Add(time.Duration(startNS) + d)
}

func countEnded(r *run) int {
	n := 0
	for _, s := range r.subs {
		if s.ended.Load() {
			n++
		}
	}
	return n
}
