package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// A target is one server's transport as the load generator reaches it.
type target struct {
	Server    string // switchboard, centrifuge, mercure
	Transport string // sse, ws, grpc, graphql
	// Path is the subscribe request's path and query (for graphql, the
	// endpoint; for grpc, unused).
	Path string
	// WSProto and WSInit: the WebSocket subprotocol and the text frame sent
	// right after the handshake (subscribe).
	WSProto, WSInit string
	// WSPing is a frame the server sends as an application ping that must
	// be answered with WSPong.
	WSPing, WSPong string
	// PubPath, PubType, PubAuth and PubBody describe one publish request.
	PubPath, PubType, PubAuth string
	PubBody                   func(payload []byte) []byte
}

func targets() []target {
	raw := func(p []byte) []byte { return p }
	return []target{
		{Server: "switchboard", Transport: "sse", Path: "/events?topic=" + benchTopic,
			PubPath: "/topics/" + benchTopic, PubType: "application/json", PubBody: raw},
		{Server: "switchboard", Transport: "ws", Path: "/ws", WSProto: "switchboard.v1",
			WSInit:  `{"type":"subscribe","id":"s1","filter":"` + benchTopic + `"}`,
			PubPath: "/topics/" + benchTopic, PubType: "application/json", PubBody: raw},
		{Server: "switchboard", Transport: "grpc",
			PubPath: "/topics/" + benchTopic, PubType: "application/json", PubBody: raw},
		{Server: "switchboard", Transport: "graphql", Path: "/graphql",
			WSInit:  `{"type":"subscribe","id":"1","payload":{"query":"subscription { messages(filter: \"` + benchTopic + `\") { data } }"}}`,
			PubPath: "/topics/" + benchTopic, PubType: "application/json", PubBody: raw},
		{Server: "centrifuge", Transport: "sse",
			Path:    "/connection/sse?cf_connect=" + url.QueryEscape(`{"id":1,"connect":{}}`),
			PubPath: "/publish", PubType: "application/json", PubBody: raw},
		{Server: "centrifuge", Transport: "ws", Path: "/connection/websocket",
			WSInit: `{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"` + benchTopic + `"}}`,
			WSPing: "{}", WSPong: "{}",
			PubPath: "/publish", PubType: "application/json", PubBody: raw},
		{Server: "mercure", Transport: "sse", Path: "/.well-known/mercure?topic=" + benchTopic,
			PubPath: "/.well-known/mercure", PubType: "application/x-www-form-urlencoded",
			PubAuth: "Bearer " + mercureJWT(),
			PubBody: func(p []byte) []byte {
				return []byte(url.Values{"topic": {benchTopic}, "data": {string(p)}}.Encode())
			}},
	}
}

// Payloads are JSON objects of exactly the configured size:
//
//	{"seq":N,"ph":P,"ts":T,"pad":"xxx…"}
//
// seq numbers the measured messages from 0, ph is 1 for them and 0 for the
// warm-up probes, ts is the send time in nanoseconds since the load
// generator's start (monotonic clock). Every server here passes the payload
// through byte for byte inside its own framing, and subscribers scan each
// event or frame for every occurrence (centrifuge batches several pushes into
// one frame).
var (
	keySeq = []byte(`"seq":`)
	keyPh  = []byte(`,"ph":`)
	keyTs  = []byte(`,"ts":`)
)

var clockBase = time.Now()

func nowNS() int64 { return int64(time.Since(clockBase)) }

func makePayload(seq, ph, size int) []byte {
	b := fmt.Appendf(nil, `{"seq":%d,"ph":%d,"ts":%d,"pad":"`, seq, ph, nowNS())
	for len(b) < size-2 {
		b = append(b, 'x')
	}
	return append(b, '"', '}')
}

func readNum(b []byte) (int64, []byte, bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, b, false
	}
	n, err := strconv.ParseInt(string(b[:i]), 10, 64)
	return n, b[i:], err == nil
}

// A run is one measurement's set of subscribers and their shared counters.
type run struct {
	msgs   int  // measured messages that may arrive
	recLat bool // keep latencies
	unique atomic.Int64
	last   atomic.Int64 // nowNS of the last first-time delivery
	subs   []*subscriber
	wg     sync.WaitGroup
	grpc   grpcPool // gRPC client connections, shared by streamsPerConn streams
	ctx    context.Context
	cancel context.CancelFunc
}

type subscriber struct {
	r       *run
	conn    io.Closer
	seen    []uint64
	uniq    int64
	dups    int64
	foreign int64
	lat     []int64
	warm    atomic.Bool
	ended   atomic.Bool // the server ended the connection before teardown
	err     error
}

func (s *subscriber) handle(b []byte) {
	for {
		k := bytes.Index(b, keySeq)
		if k < 0 {
			return
		}
		b = b[k+len(keySeq):]
		seq, rest, ok1 := readNum(b)
		if !ok1 || !bytes.HasPrefix(rest, keyPh) {
			s.foreign++
			continue
		}
		ph, rest, ok2 := readNum(rest[len(keyPh):])
		if !ok2 || !bytes.HasPrefix(rest, keyTs) {
			s.foreign++
			continue
		}
		ts, rest, ok3 := readNum(rest[len(keyTs):])
		if !ok3 {
			s.foreign++
			continue
		}
		b = rest
		if ph == 0 {
			s.warm.Store(true)
			continue
		}
		if seq < 0 || seq >= int64(s.r.msgs) {
			s.foreign++
			continue
		}
		w, bit := seq/64, uint64(1)<<(seq%64)
		if s.seen[w]&bit != 0 {
			s.dups++
			continue
		}
		s.seen[w] |= bit
		s.uniq++
		now := nowNS()
		if s.r.recLat {
			s.lat = append(s.lat, now-ts)
		}
		s.r.unique.Add(1)
		s.r.last.Store(now)
	}
}

// dialer spreads connections over source addresses 127.0.0.1…127.0.0.K so
// that more than one address's ephemeral ports (~28,000) are available.
type dialer struct {
	srcIPs int
	n      atomic.Uint64
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	k := d.n.Add(1)%uint64(d.srcIPs) + 1
	nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(k))}}
	return nd.DialContext(ctx, network, addr)
}

// connect opens one subscriber to t on addr; it returns once the handshake
// is done, with the subscriber's read loop, for the caller to run in a
// goroutine owned by r.wg. i numbers the subscriber: gRPC streams share
// one HTTP/2 connection per streamsPerConn of them.
func (r *run) connect(i int, t target, addr string, d *dialer, timeout time.Duration) (*subscriber, func(), error) {
	s := &subscriber{r: r, seen: make([]uint64, (r.msgs+63)/64)}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	switch t.Transport {
	case "sse":
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		_ = c.SetDeadline(time.Now().Add(timeout))
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n", t.Path, addr); err != nil {
			c.Close()
			return nil, nil, err
		}
		br := bufio.NewReaderSize(c, 4096)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			c.Close()
			return nil, nil, fmt.Errorf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		_ = c.SetDeadline(time.Time{})
		s.conn = c
		return s, func() { s.readSSE(resp.Body) }, nil
	case "ws":
		c, err := dialWS(ctx, "ws://"+addr+t.Path, t.WSProto, d)
		if err != nil {
			return nil, nil, err
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(t.WSInit)); err != nil {
			c.CloseNow()
			return nil, nil, err
		}
		s.conn = closerFunc(func() error { return c.CloseNow() })
		return s, func() { s.readWS(c, t) }, nil
	case "graphql":
		c, err := dialGraphQL(ctx, t, addr, d)
		if err != nil {
			return nil, nil, err
		}
		s.conn = closerFunc(func() error { return c.CloseNow() })
		return s, func() { s.readGraphQL(c) }, nil
	case "grpc":
		cc, err := r.grpc.conn(i, addr, d)
		if err != nil {
			return nil, nil, err
		}
		st, cancel, err := subscribeGRPC(r.ctx, ctx, cc)
		if err != nil {
			return nil, nil, err
		}
		s.conn = closerFunc(func() error { cancel(); return nil })
		return s, func() { s.readGRPC(st) }, nil
	}
	return nil, nil, fmt.Errorf("unknown transport %q", t.Transport)
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func (s *subscriber) readSSE(body io.Reader) {
	br := bufio.NewReaderSize(body, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 5 && string(line[:5]) == "data:" {
			s.handle(line)
		}
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue // a longer line than the buffer: its pieces are scanned in turn
			}
			s.end(err)
			return
		}
	}
}

// nextFrame reads c's next message into buf and returns its bytes (valid
// until the next call); on an error it ends the subscriber.
func (s *subscriber) nextFrame(c *websocket.Conn, buf *bytes.Buffer) ([]byte, bool) {
	_, rd, err := c.Reader(s.r.ctx)
	if err == nil {
		buf.Reset()
		_, err = buf.ReadFrom(rd)
	}
	if err != nil {
		s.end(err)
		return nil, false
	}
	return buf.Bytes(), true
}

func (s *subscriber) readWS(c *websocket.Conn, t target) {
	var buf bytes.Buffer
	for {
		b, ok := s.nextFrame(c, &buf)
		if !ok {
			return
		}
		if t.WSPing != "" && string(bytes.TrimSpace(b)) == t.WSPing {
			if err := c.Write(s.r.ctx, websocket.MessageText, []byte(t.WSPong)); err != nil {
				s.end(err)
				return
			}
			continue
		}
		s.handle(b)
	}
}

func (s *subscriber) end(err error) {
	if s.r.ctx.Err() == nil {
		s.ended.Store(true)
		s.err = err
	}
}

// close ends every connection and waits for the readers.
func (r *run) close() {
	r.cancel()
	for _, s := range r.subs {
		_ = s.conn.Close()
	}
	r.wg.Wait()
	r.grpc.close()
}

// connectAll opens n subscribers, at most 64 handshakes at a time, and
// returns how many failed (with one of the errors).
func (r *run) connectAll(t target, addr string, n, srcIPs int, timeout time.Duration) (failed int, firstErr error) {
	d := &dialer{srcIPs: srcIPs}
	var mu sync.Mutex
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s, read, err := r.connect(i, t, addr, d, timeout)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			r.subs = append(r.subs, s)
			r.wg.Go(read)
		})
	}
	wg.Wait()
	return failed, firstErr
}
