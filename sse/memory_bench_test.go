package sse

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

const memServerEnv = "SB_SSE_MEMSERVER"

type memStats struct {
	Held       int    `json:"held"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Goroutines int    `json:"goroutines"`
}

// runMemServer serves /events, /topics/ (REST publish), /stats, /heap and
// /cpu?d=10s (a CPU profile) on a loopback port, prints the address, and
// exits when stdin closes. Run it by hand to profile under loadgen:
//
//	go test -c -o /tmp/sse.test ./sse
//	SB_SSE_MEMSERVER=1 SB_SSE_FORMAT=envelope /tmp/sse.test

func runMemServer() {
	b := pubsub.NewMemory(pubsub.MemoryOptions{})
	o := &Options{Limits: limitsOff()}
	if os.Getenv("SB_SSE_FORMAT") == "envelope" {
		o.Format = FormatEnvelope
	}
	o.Buffer, _ = strconv.Atoi(os.Getenv("SB_SSE_BUFFER"))
	h := NewHandler(b, o)
	mux := http.NewServeMux()
	mux.Handle("/events", h)
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(memStats{Held: h.Active(), HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Goroutines: runtime.NumGoroutine()})
	})
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	mux.HandleFunc("/cpu", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		if err := pprof.StartCPUProfile(w); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		time.Sleep(d) // the profile's duration, asked for by the caller
		pprof.StopCPUProfile()
	})
	mux.HandleFunc("/heap", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	fmt.Println(ln.Addr().String())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = h.Shutdown(ctx)
	_ = srv.Shutdown(ctx)
	_ = b.Close()
}

// BenchmarkIdleStreamMemory measures the server-side cost of idle streams:
// a child process serves /events; this process holds SB_MEM_CONNS (default
// 10,000) streams open over raw TCP and reports heap + goroutine stacks and
// RSS per stream, measured in the child. It runs once whatever b.N is:
//
//	go test -run '^$' -bench IdleStreamMemory -benchtime 1x ./sse
func BenchmarkIdleStreamMemory(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("SB_MEM_CONNS")); err == nil && v > 0 {
		n = v
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), memServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	addr = strings.TrimSpace(addr)
	stats := func() memStats {
		resp, err := http.Get("http://" + addr + "/stats")
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var s memStats
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			b.Fatal(err)
		}
		return s
	}
	before, rssBefore := stats(), rssKiB(cmd.Process.Pid)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	req := []byte("GET /events?topic=bench/idle HTTP/1.1\r\nHost: bench\r\n\r\n")
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	s := stats()
	for s.Held < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // waiting on another process: nothing to select on
		s = stats()
	}
	if s.Held < n {
		b.Fatalf("only %d of %d streams open", s.Held, n)
	}
	rss := rssKiB(cmd.Process.Pid)
	if f := os.Getenv("SB_MEM_HEAPPROFILE"); f != "" {
		resp, err := http.Get("http://" + addr + "/heap")
		if err != nil {
			b.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := os.WriteFile(f, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
	}
	per := float64(s.HeapInuse+s.StackInuse-before.HeapInuse-before.StackInuse) / float64(n)
	b.ReportMetric(per, "heap+stack-B/stream")
	b.ReportMetric(float64(rss-rssBefore)*1024/float64(n), "rss-B/stream")
	b.ReportMetric(float64(s.Goroutines-before.Goroutines)/float64(n), "goroutines/stream")
	b.Logf("%d idle streams: heap %d→%d, stack %d→%d, goroutines %d→%d, rss %d→%d KiB",
		n, before.HeapInuse, s.HeapInuse, before.StackInuse, s.StackInuse, before.Goroutines, s.Goroutines, rssBefore, rss)
}

func rssKiB(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func limitsOff() transport.Limits { return transport.Limits{MaxConnections: -1} }
