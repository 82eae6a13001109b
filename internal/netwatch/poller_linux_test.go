package netwatch

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTCPUsesThePoller checks that a TCP connection is watched by the
// shared epoll goroutine, not by a goroutine of its own, and that the
// poller stops with the last connection.
func TestTCPUsesThePoller(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	defer s.Close()
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
