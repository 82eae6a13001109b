// Package netwatch tells when the peer of a connection that the server
// only writes to hangs up, without a goroutine per connection: a stream
// taken over from net/http (sse's hijacked streams) reads nothing, yet
// must end as soon as its client leaves.
//
// On Linux one goroutine waits in epoll(7) for every watched connection
// (EPOLLRDHUP: the peer closed or shut down its side) and exits when none
// is watched; elsewhere each watched connection has a goroutine blocked in
// a one-byte Read. Bytes the peer sends are read and discarded; a peer
// that sends more than MaxDiscard bytes counts as gone.
package netwatch

import (
	"net"
	"syscall"
)

// MaxDiscard is how many bytes a watched peer may send before it counts
// as gone: it should send none.
const MaxDiscard = 64 << 10

// Watch calls gone once, on another goroutine, when the peer of c hangs up
// or c fails, unless stop is called first. stop reports whether it
// prevented the call; after it returns true, gone is never called. Call
// stop before closing c, and not from gone. c must not be read by anyone
// else. When stop returns, no goroutine of the watch runs any more.
func Watch(c net.Conn, gone func()) (stop func() bool) {
	if sc, ok := rawConn(c); ok {
		if stop, ok := watchFD(sc, gone); ok {
			return stop
		}
	}
	return watchRead(c, gone)
}

// rawConn finds the socket under c (a *tls.Conn's too).
func rawConn(c net.Conn) (syscall.RawConn, bool) {
	for {
		switch t := c.(type) {
		case syscall.Conn:
			rc, err := t.SyscallConn()
			return rc, err == nil
		case interface{ NetConn() net.Conn }:
			c = t.NetConn()
		default:
			return nil, false
		}
	}
}
