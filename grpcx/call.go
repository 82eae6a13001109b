package grpcx

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// call is one request served by Handler.ServeHTTP: the ResponseWriter
// connect writes to, and, for a long-lived call (Subscribe, PublishStream,
// Session), its session in the handler's Tracker.
//
// A stream holds its place in the Tracker until ServeHTTP returns (connect
// has then written the end of the stream) and the Session reader, if any,
// has ended: Shutdown and Close wait for both. Streams watch
// Tracker.Closing themselves, so GoAway does nothing; Cut cancels the
// stream's context and sets past read and write deadlines through
// http.ResponseController, which ends a blocked read or write at once.
type call struct {
	http.ResponseWriter
	rc   *http.ResponseController // of ResponseWriter
	hold bool                     // Flush does nothing: more messages follow (see holdFlush)

	h      *Handler
	cancel context.CancelFunc // cancels the stream's context; nil for a unary call
	reader chan struct{}      // closed when the Session reader ended; nil without one

	mu     sync.Mutex
	served bool // ServeHTTP returned: the ResponseWriter is no longer ours
	refs   int  // holders of the Tracker place: ServeHTTP and the reader
}

type callKey struct{}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// Flush flushes unless a stream holds flushes back. It goes through
// http.ResponseController, which follows Unwrap to a writer that flushes
// (a plain type assertion stops at the first middleware wrapper).
func (c *call) Flush() {
	if c.hold {
		return
	}
	_ = c.rc.Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (c *call) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// holdFlush makes the Sends of a stream flush only when hold is false:
// connect flushes after every message, and a burst is cheaper with one
// flush (the HTTP/2 server sends the data as its buffer fills). c may be
// nil (no call tracked); only the call's own goroutine uses it.
func (c *call) holdFlush(hold bool) {
	if c != nil {
		c.hold = hold
	}
}

// maxHeld bounds the messages sent without a flush.
const maxHeld = 64

// GoAway does nothing: Subscribe and Session end on Tracker.Closing with
// Unavailable (and the resume cursor), PublishStream ends when its client
// has sent everything.
func (c *call) GoAway() {}

// Cut ends the stream now: its context is cancelled, and blocked reads of
// the request and writes of the response fail (HTTP/2 resets the stream).
func (c *call) Cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.served {
		return
	}
	c.cancel()
	rc := http.NewResponseController(c.ResponseWriter)
	now := time.Now()
	_ = rc.SetReadDeadline(now)
	_ = rc.SetWriteDeadline(now)
}

// goRead runs read, a loop reading the request, on its own goroutine;
// the call keeps its place in the Tracker until read returns.
func (c *call) goRead(read func()) {
	c.reader = make(chan struct{})
	c.mu.Lock()
	c.refs++
	c.mu.Unlock()
	go func() {
		defer c.release()
		defer close(c.reader)
		read()
	}()
}

// finish runs when connect is done with the call. A reader still blocked
// on the request body is ended by a past read deadline, and waited for, so
// it never outlives ServeHTTP; behind a ResponseWriter without read
// deadlines it ends when the HTTP server closes the body, and the stream
// keeps its place in the Tracker until then.
func (c *call) finish() {
	if c.cancel == nil {
		return
	}
	if c.reader != nil {
		select {
		case <-c.reader:
		default:
			if http.NewResponseController(c.ResponseWriter).SetReadDeadline(time.Now()) == nil {
				<-c.reader
			}
		}
	}
	c.mu.Lock()
	c.served = true
	c.mu.Unlock()
	c.cancel()
	c.release()
}

// release drops one hold on the Tracker place; the last one leaves.
func (c *call) release() {
	c.mu.Lock()
	c.refs--
	last := c.refs == 0
	c.mu.Unlock()
	if last {
		c.h.streams.Leave(c)
	}
}
