package netwatch

import (
	"net"
	"sync"
	"time"
)

// aLongTimeAgo is a deadline in the past: it fails a blocked Read at once.
var aLongTimeAgo = time.Unix(1, 0)

// watchRead watches c with a goroutine blocked in Read: the portable way,
// and the fallback for connections without a file descriptor. stop
// interrupts the Read with a deadline in the past and waits for the
// goroutine.
func watchRead(c net.Conn, gone func()) (stop func() bool) {
	raw := c
	if t, ok := c.(interface{ NetConn() net.Conn }); ok {
		raw = t.NetConn() // read under TLS: records are discarded, not decrypted
	}
	var (
		mu      sync.Mutex
		stopped bool
		fired   bool
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		var b [512]byte
		total := 0
		for {
			n, err := raw.Read(b[:])
			total += n
			if err != nil || total > MaxDiscard {
				break
			}
		}
		mu.Lock()
		fired = !stopped
		mu.Unlock()
		if fired {
			gone()
		}
	}()
	return func() bool {
		mu.Lock()
		if stopped {
			mu.Unlock()
			return false
		}
		stopped = true
		ok := !fired
		mu.Unlock()
		_ = raw.SetReadDeadline(aLongTimeAgo)
		<-done
		return ok
	}
}
