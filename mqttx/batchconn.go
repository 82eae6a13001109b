package mqttx

import (
	"net"
	"sync"
	"time"
)

// batchConn lets a forwarder write a burst of PUBLISH packets with one
// system call: between hold and release, writes (mochi's own acks
// included, in order) collect in a buffer, flushed when the last holder
// releases, before waiting for a client's acknowledgement, or beyond
// maxBatchBytes. Every network write gets the write deadline (unless
// WriteTimeout is off), so a client that stops reading cannot hold a
// goroutine.
type batchConn struct {
	net.Conn
	timeout time.Duration // bounds every write to the network; 0: no bound
	mu      sync.Mutex
	off     bool // no more batching: the connection is being closed
	holds   int
	buf     *[]byte
}

const maxBatchBytes = 64 << 10

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holds == 0 || b.off {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		return b.write(p)
	}
	if b.buf == nil {
		b.buf = batchBufs.Get().(*[]byte)
	}
	*b.buf = append(*b.buf, p...)
	if len(*b.buf) >= maxBatchBytes {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (b *batchConn) hold() {
	b.mu.Lock()
	b.holds++
	b.mu.Unlock()
}

// release ends a hold; the last one flushes.
func (b *batchConn) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holds--
	if b.holds > 0 {
		return nil
	}
	return b.flushLocked()
}

// flush writes what is buffered, keeping the hold.
func (b *batchConn) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *batchConn) flushLocked() error {
	if b.buf == nil {
		return nil
	}
	buf := b.buf
	b.buf = nil
	_, err := b.write(*buf)
	if cap(*buf) <= maxBatchBytes*2 {
		*buf = (*buf)[:0]
		batchBufs.Put(buf)
	}
	return err
}

func (b *batchConn) write(p []byte) (int, error) {
	if b.timeout > 0 {
		_ = b.Conn.SetWriteDeadline(time.Now().Add(b.timeout))
	}
	return b.Conn.Write(p)
}

// unbatch flushes and turns batching off, so a final DISCONNECT is written
// at once.
func (b *batchConn) unbatch() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.off = true
	_ = b.flushLocked()
}
