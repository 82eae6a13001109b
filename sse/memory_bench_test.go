package sse

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"testing"

	"github.com/switchboard-go/switchboard/internal/memprobe"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

const memServerEnv = "SB_SSE_MEMSERVER"

// runMemServer is the child process of BenchmarkIdleStreamMemory: /events
// and /topics/ (REST publish) over a memory broker. Run it by hand to
// profile under loadgen:
//
//	go test -c -o /tmp/sse.test ./sse
//	SB_SSE_MEMSERVER=1 SB_SSE_FORMAT=envelope /tmp/sse.test
func runMemServer() {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	o := &Options{Limits: limitsOff()}
	if os.Getenv("SB_SSE_FORMAT") == "envelope" {
		o.Format = FormatEnvelope
	}
	o.Buffer, _ = strconv.Atoi(os.Getenv("SB_SSE_BUFFER"))
	h := NewHandler(b, o)
	mux := http.NewServeMux()
	mux.Handle("/events", h)
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	memprobe.Child(mux, h.Active, func(ctx context.Context) { _ = h.Shutdown(ctx) })
}

// BenchmarkIdleStreamMemory measures the server-side cost of idle streams:
// SB_MEM_CONNS (default 10,000) streams held open, heap + goroutine stacks
// and RSS per stream measured in a child process. It runs once whatever b.N is:
//
//	go test -run '^$' -bench IdleStreamMemory -benchtime 1x ./sse
func BenchmarkIdleStreamMemory(b *testing.B) {
	memprobe.Measure(b, memServerEnv, "GET /events?topic=bench/idle HTTP/1.1\r\nHost: bench\r\n\r\n", 10000, "stream")
}

func limitsOff() transport.Limits { return transport.Limits{MaxConnections: -1} }
