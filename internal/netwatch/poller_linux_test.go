package netwatch

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTCPUsesThePoller checks that a TCP connection is watched by the
// shared epoll goroutine, not by a goroutine of its own, and that the
// poller stops with the last connection.
func TestTCPUsesThePoller(t *testing.T) {
	s, _ := tcpPair(t)
	stop := Watch(s, func() {})
	w.mu.Lock()
	running, watched := w.running, len(w.watched)
	w.mu.Unlock()
	require.True(t, running)
	require.Equal(t, 1, watched)
	require.True(t, stop())
	w.mu.Lock()
	running = w.running
	w.mu.Unlock()
	require.False(t, running)
}

// TestStopAfterGoneAwaitsThePoller: when the last watched connection's
// peer hangs up, the poller stops; stop, though it comes too late to
// prevent the call, returns only once the poller's goroutine has exited
// (here: once gone has returned), as it does when it unwatches the last
// connection itself and as the Read fallback's stop does, so a Close that
// waits for its streams leaves no goroutine behind.
func TestStopAfterGoneAwaitsThePoller(t *testing.T) {
	s, c := tcpPair(t)
	fired, release := make(chan struct{}), make(chan struct{})
	stop := Watch(s, func() { close(fired); <-release })
	w.mu.Lock()
	done := w.done
	w.mu.Unlock()
	require.NoError(t, c.Close())
	<-fired // the poller's goroutine is in gone
	stopped := make(chan bool, 1)
	go func() { stopped <- stop() }()
	select {
	case <-stopped:
		close(release)
		t.Fatal("stop returned while the poller's goroutine still runs")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	require.False(t, <-stopped)
	select {
	case <-done:
	default:
		t.Fatal("stop returned while the poller's goroutine still runs")
	}
}

// tcpPair returns the server and client ends of a loopback TCP
// connection, closed when the test ends.
func tcpPair(t *testing.T) (server, client net.Conn) {
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
