package ws

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
)

// The connection under a server-side websocket.Conn.
//
// coder/websocket keeps, for the life of a connection, the two 4 KiB
// bufio buffers net/http hands over with a hijacked connection, and its
// reading goroutine waits in a Read on the reader's buffer. An idle
// connection needs neither. ServeHTTP therefore gives websocket.Accept a
// ResponseWriter whose Hijack returns a leanConn and tiny bufio buffers:
//
//   - reads wait for the socket to become readable without a buffer, then
//     read into a buffer from a pool, which goes back to the pool as soon
//     as its bytes have been consumed (TCP connections; other connections,
//     such as TLS, are read through directly);
//   - coder/websocket writes only control frames (ping, pong, close), each
//     whole in one Write (its bufio.Writer holds any control frame), while
//     the session's writer writes data frames itself with writeFrames, many
//     in one system call. Both hold wmu, so frames never interleave.

// readBufSize is the size of the pooled read buffers.
const readBufSize = 4096

// ctrlWriterSize is the size of the bufio.Writer coder/websocket writes
// through: larger than any control frame (2 header bytes + 125), so each
// frame reaches leanConn.Write whole, in one call.
const ctrlWriterSize = 256

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// errCloseSent is writeFrames' error once a close frame has been written.
var errCloseSent = errors.New("ws: close frame sent")

type leanConn struct {
	net.Conn
	rc      syscall.RawConn // nil: read through Conn
	pending []byte          // bytes net/http read beyond the handshake, served first
	sess    *session        // set once the upgrade succeeded; pongs go to it

	// Read side, with rmu (coder/websocket serializes its own reads;
	// waitData runs beside them).
	rmu    sync.Mutex
	br     *bufio.Reader         // coder/websocket's, over this connection
	rbuf   *[]byte               // from readBufs; nil while nothing is buffered
	r, n   int                   // (*rbuf)[r:n] is unread
	rerr   error                 // sticky: the socket failed or ended
	readFn func(fd uintptr) bool // rawRead, bound once

	wmu       sync.Mutex
	closeSent bool // a close frame went out: no more data frames
	// tryWrite's arguments and results, with wmu.
	wb      []byte
	wn      int
	werr    error
	writeFn func(fd uintptr) bool // rawWrite, bound once
}

func newLeanConn(c net.Conn, pending []byte) *leanConn {
	lc := &leanConn{Conn: c, pending: pending}
	if sc, ok := c.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			lc.rc = rc
			lc.readFn, lc.writeFn = lc.rawRead, lc.rawWrite
		}
	}
	return lc
}

func (c *leanConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	if c.rc == nil {
		return c.Conn.Read(p)
	}
	if c.rbuf == nil {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*c.rbuf)[c.r:c.n])
	c.r += n
	if c.r == c.n {
		readBufs.Put(c.rbuf)
		c.rbuf = nil
	}
	return n, nil
}

// fill waits for data and reads it into a pooled buffer; rmu held, no
// buffer held.
func (c *leanConn) fill() error {
	if c.rerr == nil {
		if err := c.rc.Read(c.readFn); err != nil {
			return err
		}
	}
	return c.rerr
}

// waitData waits until the connection has something for coder/websocket
// to read other than pongs, which it consumes itself (they go to the
// session's onPong). The reader calls it between messages, so that an idle
// connection's reader waits here, on a shallow stack, rather than deep in
// coder/websocket's Read, and a keep-alive pong does not leave it there. It
// returns at once for connections without raw socket access.
func (c *leanConn) waitData() {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rc == nil {
		return
	}
	for c.br.Buffered() == 0 && len(c.pending) == 0 {
		if c.rbuf == nil && c.fill() != nil {
			return // Read reports it
		}
		if !c.dropPongs() {
			return
		}
	}
}

// dropPongs consumes the whole pong frames at the head of the buffered
// data and reports whether that was all of it (the buffer is then
// released). coder/websocket has read up to a frame boundary: the reader
// calls waitData only between messages, with its bufio.Reader empty.
func (c *leanConn) dropPongs() bool {
	for c.r < c.n {
		b := (*c.rbuf)[c.r:c.n]
		// FIN and pong, masked (as a client's frames are), at most 125 bytes.
		if len(b) < 2 || b[0] != 0x8a || b[1]&0x80 == 0 || b[1]&0x7f > 125 {
			return false
		}
		l := int(b[1] & 0x7f)
		if len(b) < 6+l {
			return false // let coder/websocket wait for the rest
		}
		var p [125]byte
		for i := range l {
			p[i] = b[6+i] ^ b[2+i%4]
		}
		if c.sess != nil {
			c.sess.onPong(p[:l])
		}
		c.r += 6 + l
	}
	readBufs.Put(c.rbuf)
	c.rbuf = nil
	return true
}

// rawRead reads what the (non-blocking) socket holds into a pooled buffer;
// false, with no buffer kept, when it holds nothing yet, and RawConn.Read
// then waits for it to become readable.
func (c *leanConn) rawRead(fd uintptr) bool {
	b := readBufs.Get().(*[]byte)
	for {
		n, err := syscall.Read(int(fd), *b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			readBufs.Put(b)
			return false
		case err != nil:
			c.rerr = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		case n == 0:
			c.rerr = io.EOF
		default:
			c.rbuf, c.r, c.n = b, 0, n
			return true
		}
		readBufs.Put(b)
		return true
	}
}

// Write is coder/websocket's: one whole control frame per call.
func (c *leanConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(p) > 0 && p[0]&0x0f == 0x8 { // opcode close
		c.closeSent = true
	}
	return c.Conn.Write(p)
}

// errDeadline is the error of a write that outlived its deadline.
var errDeadline = os.ErrDeadlineExceeded

// tryWrite writes what the socket takes of b now, without waiting; wmu
// held.
func (c *leanConn) tryWrite(b []byte) (int, error) {
	c.wb, c.wn, c.werr = b, 0, nil
	err := c.rc.Write(c.writeFn)
	n, werr := c.wn, c.werr
	c.wb, c.werr = nil, nil
	if err == nil {
		err = werr
	}
	return n, err
}

// rawWrite writes c.wb[c.wn:] to the non-blocking socket until it is all
// written or the socket is full; it never asks RawConn.Write to wait.
func (c *leanConn) rawWrite(fd uintptr) bool {
	for c.wn < len(c.wb) {
		n, err := syscall.Write(int(fd), c.wb[c.wn:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return true
		case err != nil:
			c.werr = &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", err)}
			return true
		}
		c.wn += n
	}
	return true
}

// hijackWriter is the ResponseWriter ServeHTTP gives websocket.Accept: its
// Hijack hands over a leanConn with tiny bufio buffers, and keeps the
// leanConn for the session.
type hijackWriter struct {
	http.ResponseWriter
	conn *leanConn
}

func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	var pending []byte
	if brw != nil {
		if n := brw.Reader.Buffered(); n > 0 {
			p, _ := brw.Reader.Peek(n)
			pending = append([]byte(nil), p...)
		}
		if brw.Writer.Buffered() > 0 {
			if err := brw.Writer.Flush(); err != nil {
				_ = c.Close()
				return nil, nil, err
			}
		}
	}
	w.conn = newLeanConn(c, pending)
	w.conn.br = bufio.NewReaderSize(w.conn, 16)
	return w.conn, bufio.NewReadWriter(w.conn.br, bufio.NewWriterSize(w.conn, ctrlWriterSize)), nil
}
