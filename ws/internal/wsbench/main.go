// Command wsbench serves ws.Handler at /ws and the REST publisher at
// /topics/ over one pubsub.Memory, for the load generator in
// ../shared/tools/loadgen (see its README). GET /debug/mem runs a GC and
// prints the connection count, goroutines and heap/stack bytes.
//
//	go build -o /tmp/wsbench ./ws/internal/wsbench
//	/tmp/wsbench -addr 127.0.0.1:18777 & SPID=$!
//	echo '{"type":"subscribe","id":"s","filter":"bench"}' > /tmp/ws-init.txt
//	/tmp/loadgen -mode ws -url ws://127.0.0.1:18777/ws -ws-subprotocol switchboard.v1 \
//	  -ws-init /tmp/ws-init.txt -ready-match '"subscribed"' -n 1000 -msgs 2000 -size 256 \
//	  -publish-url http://127.0.0.1:18777/topics/bench -server-pid $SPID
//	kill $SPID
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18777", "listen address")
	buf := flag.Int("buffer", 0, "ws.Options.Buffer (0 = broker default)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *buf, nil); err != nil {
		fmt.Fprintln(os.Stderr, "wsbench:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done; ready, if set, gets the listening address.
func run(ctx context.Context, addr string, buf int, ready func(string)) error {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	h := ws.NewHandler(b, &ws.Options{Limits: transport.Limits{MaxConnections: 50000}, Buffer: buf})
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	mux.HandleFunc("/debug/mem", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(w, "conns=%d goroutines=%d heapInuse=%d stackInuse=%d\n",
			h.Active(), runtime.NumGoroutine(), ms.HeapInuse, ms.StackInuse)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.Shutdown(sctx)
	_ = srv.Shutdown(sctx)
	<-errc
	return nil
}
