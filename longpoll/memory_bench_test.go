package longpoll

import (
	"context"
	"net/http"
	"testing"

	"github.com/switchboard-go/switchboard/internal/memprobe"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

const memServerEnv = "SB_LONGPOLL_MEMSERVER"

// runMemServer is the child process of BenchmarkHeldPollMemory: /poll over
// a memory broker.
func runMemServer() {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := NewHandler(b, &Options{Limits: limitsOff()})
	mux := http.NewServeMux()
	mux.Handle("/poll", h)
	memprobe.Child(mux, h.Active, func(ctx context.Context) { _ = h.Shutdown(ctx) })
}

// BenchmarkHeldPollMemory measures the server-side cost of held polls:
// SB_MEM_CONNS (default 10,000) polls held open, heap + goroutine stacks
// and RSS per poll measured in a child process. It runs once whatever b.N is:
//
//	go test -run '^$' -bench HeldPollMemory -benchtime 1x ./longpoll
func BenchmarkHeldPollMemory(b *testing.B) {
	memprobe.Measure(b, memServerEnv, "GET /poll?topic=bench/idle&timeout=50s HTTP/1.1\r\nHost: bench\r\n\r\n", 10000, "poll")
}

func limitsOff() transport.Limits { return transport.Limits{MaxConnections: -1} }
