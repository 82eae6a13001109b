package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/internal/grpcgo"
)

// streamsPerConn is how many gRPC Subscribe streams share one HTTP/2
// connection (Go's HTTP/2 server allows 250 concurrent streams on one).
const streamsPerConn = 100

// grpcPool holds the load generator's gRPC client connections: subscriber i
// uses connection i/streamsPerConn.
type grpcPool struct {
	mu    sync.Mutex
	conns map[int]*grpc.ClientConn
}

func (p *grpcPool) conn(i int, addr string, d *dialer) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := i / streamsPerConn
	if cc := p.conns[k]; cc != nil {
		return cc, nil
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", a)
		}))
	if err != nil {
		return nil, err
	}
	if p.conns == nil {
		p.conns = map[int]*grpc.ClientConn{}
	}
	p.conns[k] = cc
	return cc, nil
}

// count returns how many connections the pool opened.
func (p *grpcPool) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *grpcPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cc := range p.conns {
		_ = cc.Close()
	}
	p.conns = nil
}

// subscribeGRPC opens a Subscribe stream to the topic on cc, living until
// runCtx ends or cancel is called, and returns once the server sent Opened
// (the subscription is active), or fails when ctx ends first.
func subscribeGRPC(runCtx, ctx context.Context, cc *grpc.ClientConn) (grpc.ServerStreamingClient[pb.SubscribeResponse], context.CancelFunc, error) {
	sctx, cancel := context.WithCancel(runCtx)
	stop := context.AfterFunc(ctx, cancel) // bounds the handshake only
	st, err := grpcgo.NewPubSubServiceClient(cc).Subscribe(sctx, &pb.SubscribeRequest{Filters: []string{benchTopic}})
	if err == nil {
		var first *pb.SubscribeResponse
		first, err = st.Recv()
		if err == nil && first.GetOpened() == nil {
			err = fmt.Errorf("first event is not Opened: %v", first)
		}
	}
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return st, cancel, nil
}

func (s *subscriber) readGRPC(st grpc.ServerStreamingClient[pb.SubscribeResponse]) {
	for {
		m, err := st.Recv()
		if err != nil {
			s.end(err)
			return
		}
		s.handle(m.GetMessage().GetData())
	}
}

// dialGraphQL opens a graphql-transport-ws connection: connection_init,
// connection_ack, then the subscribe message t.WSInit.
func dialGraphQL(ctx context.Context, t target, addr string, d *dialer) (*websocket.Conn, error) {
	c, err := dialWS(ctx, "ws://"+addr+t.Path, "graphql-transport-ws", d)
	if err != nil {
		return nil, err
	}
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init"}`)); err != nil {
		c.CloseNow()
		return nil, err
	}
	_, ack, err := c.Read(ctx)
	if err == nil && !bytes.HasPrefix(ack, []byte(`{"type":"connection_ack"`)) {
		err = fmt.Errorf("expected connection_ack, got %.100s", ack)
	}
	if err == nil {
		err = c.Write(ctx, websocket.MessageText, []byte(t.WSInit))
	}
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	return c, nil
}

var (
	gqlNext = []byte(`{"type":"next"`)
	gqlPing = []byte(`{"type":"ping"`)
)

// readGraphQL reads next messages, whose payload carries the message as a
// JSON string ({"data":{"messages":{"data":"{\"seq\":…}"}}}): it is
// unescaped in place before it is scanned. A ping is answered; any other
// message (error, complete) ends the subscription.
func (s *subscriber) readGraphQL(c *websocket.Conn) {
	var buf bytes.Buffer
	for {
		b, ok := s.nextFrame(c, &buf)
		if !ok {
			return
		}
		switch {
		case bytes.HasPrefix(b, gqlNext):
			s.handle(unescapeQuotes(b))
		case bytes.HasPrefix(b, gqlPing):
			if err := c.Write(s.r.ctx, websocket.MessageText, []byte(`{"type":"pong"}`)); err != nil {
				s.end(err)
				return
			}
		default:
			s.end(errors.New(string(bytes.Clone(b[:min(len(b), 200)]))))
			return
		}
	}
}

// unescapeQuotes turns \" into " and \\ into \ in place.
func unescapeQuotes(b []byte) []byte {
	i := bytes.IndexByte(b, '\\')
	if i < 0 {
		return b
	}
	w := i
	for ; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
		}
		b[w] = b[i]
		w++
	}
	return b[:w]
}

// dialWS dials a WebSocket without compression on a fresh connection from
// d, offering subprotocol proto ("" none).
func dialWS(ctx context.Context, url, proto string, d *dialer) (*websocket.Conn, error) {
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	opts := &websocket.DialOptions{HTTPClient: hc, CompressionMode: websocket.CompressionDisabled}
	if proto != "" {
		opts.Subprotocols = []string{proto}
	}
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	return c, nil
}
