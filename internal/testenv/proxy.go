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

	mu     sync.Mutex
	down   bool
	held   chan struct{} // non-nil while black-holed: closed to let bytes flow again
	closed chan struct{} // closed by Close
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	once   sync.Once
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
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{}), closed: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Close stops the proxy: the listener and every connection close, and
// Close waits for the proxy's goroutines. It is idempotent.
func (p *Proxy) Close() {
	p.once.Do(func() {
		_ = p.ln.Close()
		close(p.closed)
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
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

// pipe copies src to dst until either fails, holding each chunk while the
// proxy is black-holed.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		_ = dst.Close()
		_ = src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.flowing() {
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

// flowing waits while the proxy is black-holed; false when it closed.
func (p *Proxy) flowing() bool {
	p.mu.Lock()
	held := p.held
	p.mu.Unlock()
	if held == nil {
		return true
	}
	select {
	case <-held:
		return true
	case <-p.closed:
		return false
	}
}

// Drop closes every proxied connection; new ones are accepted.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Cut closes every proxied connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.Drop()
}

// Blackhole stops forwarding bytes in both directions on every connection,
// open or new, without closing any, as a network that silently drops
// packets would: peers notice only through their own timeouts. Bytes sent
// meanwhile are held and flow on after Restore (as TCP retransmits them),
// unless a peer gave up and closed its side first.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = make(chan struct{})
	}
}

// Restore accepts connections again after Cut, and lets bytes flow again
// after Blackhole.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
	if p.held != nil {
		close(p.held)
		p.held = nil
	}
}
