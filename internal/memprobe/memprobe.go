// Package memprobe measures what idle connections cost a server, for the
// memory benchmarks of the streaming transports. The benchmark re-runs its
// own test binary as a child process that serves the handler (Child); the
// parent (Measure) holds many raw connections open against it and reads
// heap, goroutine stacks and RSS per connection from the child, so the
// client side's memory does not count.
package memprobe

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

	"github.com/switchboard-go/switchboard/internal/procstat"
)

// Stats is what the child reports at /stats.
type Stats struct {
	Active     int    `json:"active"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Goroutines int    `json:"goroutines"`
}

// Child serves mux on a loopback port with /stats (active counts the open
// connections), /heap (a heap profile) and /cpu?d=10s (a CPU profile)
// added, prints the address on stdout, and returns after stdin closes,
// calling shutdown first. Call it from TestMain when the benchmark's
// environment variable is set. Run by hand, it is a server to profile under
// loadgen.
func Child(mux *http.ServeMux, active func() int, shutdown func(context.Context)) {
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_ = json.NewEncoder(w).Encode(Stats{Active: active(), HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Goroutines: runtime.NumGoroutine()})
	})
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
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	fmt.Println(ln.Addr().String())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	shutdown(ctx)
	_ = srv.Shutdown(ctx)
	<-done
}

// Measure starts the child (this test binary with env=1), opens n
// connections (SB_MEM_CONNS overrides it) that each send request, waits
// until the child counts them all active, and reports heap+stack, RSS and
// goroutines per connection, named per unit ("stream", "poll"). With
// SB_MEM_HEAPPROFILE set it also saves the child's heap profile there.
func Measure(b *testing.B, env, request string, n int, unit string) {
	if v, err := strconv.Atoi(os.Getenv("SB_MEM_CONNS")); err == nil && v > 0 {
		n = v
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"=1")
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
	stats := func() Stats {
		resp, err := http.Get("http://" + addr + "/stats")
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var s Stats
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
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, request); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	s := stats()
	for s.Active < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // waiting on another process: nothing to select on
		s = stats()
	}
	if s.Active < n {
		b.Fatalf("only %d of %d connections active", s.Active, n)
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
	b.ReportMetric(per, "heap+stack-B/"+unit)
	b.ReportMetric(float64(rss-rssBefore)*1024/float64(n), "rss-B/"+unit)
	b.ReportMetric(float64(s.Goroutines-before.Goroutines)/float64(n), "goroutines/"+unit)
	b.Logf("%d idle connections: heap %d→%d, stack %d→%d, goroutines %d→%d, rss %d→%d KiB",
		n, before.HeapInuse, s.HeapInuse, before.StackInuse, s.StackInuse, before.Goroutines, s.Goroutines, rssBefore, rss)
}

// rssKiB is procstat.RSSKiB as the unsigned figure Measure subtracts.
func rssKiB(pid int) uint64 { return uint64(procstat.RSSKiB(pid)) }
