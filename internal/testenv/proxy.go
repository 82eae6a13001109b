package testenv

import (
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy in front of a service that a test can cut, as a
// network fault would. It stops at the end of the test.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	hole  chan struct{}              // non-nil while black-holed; closed by Restore
	conns map[net.Conn]chan struct{} // each closed (with its done) by Drop
	wg    sync.WaitGroup
	once  sync.Once
}

// NewProxy starts a proxy to target (host:port) on a free loopback port.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := StartProxy(target)
	if err != nil {
		t.Fatalf("testenv: proxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// StartProxy starts a proxy to target (host:port) on a free loopback port
// outside a test (the chaos program uses it); stop it with Close.
func StartProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Close stops the proxy: the listener and every connection close (held
// bytes are dropped), and Close waits for the proxy's goroutines. It is
// idempotent.
func (p *Proxy) Close() {
	p.once.Do(func() {
		_ = p.ln.Close()
		p.Cut()
		p.wg.Wait()
	})
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		done := make(chan struct{})
		p.conns[c], p.conns[s] = done, done
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, s, done)
		go p.pipe(s, c, done)
	}
}

// pipe copies src to dst, holding each chunk while the proxy is
// black-holed, until either side closes.
func (p *Proxy) pipe(dst, src net.Conn, done <-chan struct{}) {
	defer p.wg.Done()
	defer func() {
		_ = dst.Close()
		_ = src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass(done) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pass waits while the proxy is black-holed; false when the connection
// was dropped meanwhile.
func (p *Proxy) pass(done <-chan struct{}) bool {
	p.mu.Lock()
	hole := p.hole
	p.mu.Unlock()
	if hole == nil {
		return true
	}
	select {
	case <-hole:
		return true
	case <-done:
		return false
	}
}

// Drop closes every proxied connection; new ones are accepted.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c, done := range p.conns {
		_ = c.Close()
		select {
		case <-done:
		default:
			close(done)
		}
	}
	clear(p.conns)
}

// BlackHole stops forwarding, as a network that drops every packet would:
// connections stay open and new ones are accepted, but no byte passes in
// either direction until Restore, when what was held passes on (to peers
// that may have given up meanwhile). Drop and Cut still close connections.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hole == nil {
		p.hole = make(chan struct{})
	}
}

// Cut closes every proxied connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.Drop()
}

// Restore accepts connections again after Cut, and forwards again after
// BlackHole.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
	if p.hole != nil {
		close(p.hole)
		p.hole = nil
	}
}
