package netwatch_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/netwatch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pair returns the two ends of a loopback TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func signal() (func(), <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }, ch
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not within 10s", what)
	}
}

// conns returns the ways a watched connection can look: a TCP socket (the
// shared poller on Linux) and a connection without a descriptor (a
// goroutine blocked in Read).
func conns(t *testing.T) map[string]func(t *testing.T) (server, client net.Conn) {
	return map[string]func(t *testing.T) (net.Conn, net.Conn){
		"tcp": pair,
		"pipe": func(t *testing.T) (net.Conn, net.Conn) {
			s, c := net.Pipe()
			t.Cleanup(func() { s.Close(); c.Close() })
			return s, c
		},
	}
}

func TestGoneWhenPeerCloses(t *testing.T) {
	for name, mk := range conns(t) {
		t.Run(name, func(t *testing.T) {
			server, client := mk(t)
			gone, fired := signal()
			stop := netwatch.Watch(server, gone)
			require.NoError(t, client.Close())
			waitFor(t, fired, "gone after the peer closed")
			require.False(t, stop(), "stop after gone reports it came too late")
		})
	}
}

func TestBytesFromPeerAreDiscarded(t *testing.T) {
	for name, mk := range conns(t) {
		t.Run(name, func(t *testing.T) {
			server, client := mk(t)
			gone, fired := signal()
			stop := netwatch.Watch(server, gone)
			// A peer that writes a little is still there: its bytes are
			// read and dropped (a pipe write returns once they are read).
			_, err := client.Write([]byte("GET /again HTTP/1.1\r\n\r\n"))
			require.NoError(t, err)
			_, err = client.Write([]byte("more"))
			require.NoError(t, err)
			select {
			case <-fired:
				t.Fatal("a peer that sent a few bytes counted as gone")
			default:
			}
			require.True(t, stop(), "stop before the peer left prevents gone")
			// stop has unwatched the connection (and awaited the goroutine
			// of the fallback): nothing can call gone from now on.
			require.NoError(t, client.Close())
			select {
			case <-fired:
				t.Fatal("gone called after stop")
			default:
			}
		})
	}
}

func TestFloodingPeerIsGone(t *testing.T) {
	server, client := pair(t)
	gone, fired := signal()
	stop := netwatch.Watch(server, gone)
	defer stop()
	junk := make([]byte, 16<<10)
	go func() {
		for i := 0; i < 2*netwatch.MaxDiscard/len(junk)+2; i++ {
			if _, err := client.Write(junk); err != nil {
				return
			}
		}
	}()
	waitFor(t, fired, "gone after more than MaxDiscard bytes")
}

// TestManyConnections watches and unwatches many connections at once,
// some of whose peers leave: each gone is called exactly for those, and
// the poller's goroutine is gone afterwards (goleak, in TestMain).
func TestManyConnections(t *testing.T) {
	const n = 200
	var wg sync.WaitGroup
	type one struct {
		server, client net.Conn
		fired          <-chan struct{}
		stop           func() bool
	}
	all := make([]one, n)
	for i := range all {
		s, c := pair(t)
		gone, fired := signal()
		all[i] = one{server: s, client: c, fired: fired, stop: netwatch.Watch(s, gone)}
	}
	for i := range all {
		if i%2 == 0 {
			require.NoError(t, all[i].client.Close())
		}
	}
	for i := range all {
		if i%2 == 0 {
			waitFor(t, all[i].fired, "gone")
			continue
		}
		wg.Go(func() {
			if !all[i].stop() {
				t.Errorf("connection %d: gone although its peer stayed", i)
			}
		})
	}
	wg.Wait()
	for i := range all {
		if i%2 == 1 {
			select {
			case <-all[i].fired:
				t.Errorf("connection %d: gone after stop", i)
			default:
			}
		}
	}
}
