package pubsub

import (
	"context"
	"fmt"
	"sync"
)

// MultiSubscriber is implemented by brokers that deliver several filters on
// one subscription, each message once and in cursor order (Memory does).
// Transports that let a client subscribe to several filters on one stream
// use it through SubscribeAll, so a resuming client's last cursor always
// covers everything before it.
type MultiSubscriber interface {
	SubscribeMany(ctx context.Context, filters []string, opts *SubscribeOptions) (Subscription, error)
}

// SubscribeAll subscribes to every filter on one Subscription. With a
// MultiSubscriber broker messages arrive once each, in cursor order. Other
// brokers get one subscription per filter merged by goroutines: order is
// kept per filter but not across filters, and a message matching two
// filters arrives twice (as with MQTT). The merged subscription ends when
// any of its parts ends, with that part's error.
func SubscribeAll(ctx context.Context, b Broker, filters []string, opts *SubscribeOptions) (Subscription, error) {
	if ms, ok := b.(MultiSubscriber); ok {
		return ms.SubscribeMany(ctx, filters, opts)
	}
	switch len(filters) {
	case 0:
		return nil, fmt.Errorf("%w: no filter", ErrInvalidFilter)
	case 1:
		return b.Subscribe(ctx, filters[0], opts)
	}
	o := opts.WithDefaults()
	m := &mergedSub{ch: make(chan *Message, o.Buffer), done: make(chan struct{}), finished: make(chan struct{}), manual: o.ManualAck}
	if m.manual {
		m.origin = make(map[*Message]Subscription)
	}
	for _, f := range filters {
		s, err := b.Subscribe(ctx, f, opts)
		if err != nil {
			for _, p := range m.parts {
				_ = p.Close()
			}
			return nil, err
		}
		m.parts = append(m.parts, s)
	}
	m.wg.Add(len(m.parts))
	for _, p := range m.parts {
		go m.forward(p)
	}
	go func() {
		m.wg.Wait()
		close(m.ch)
		close(m.finished)
	}()
	return m, nil
}

// mergedSub merges the subscriptions of SubscribeAll for brokers that are
// not MultiSubscribers.
type mergedSub struct {
	parts    []Subscription
	ch       chan *Message
	done     chan struct{}
	manual   bool
	wg       sync.WaitGroup // forwarders; ch closes after them
	finished chan struct{}  // closed after ch, by the goroutine waiting for wg

	mu     sync.Mutex
	err    error
	closed bool
	origin map[*Message]Subscription // ManualAck: which part delivered a message
}

func (m *mergedSub) forward(p Subscription) {
	defer m.wg.Done()
	for msg := range p.C() {
		if m.manual {
			m.mu.Lock()
			m.origin[msg] = p
			m.mu.Unlock()
		}
		select {
		case m.ch <- msg:
		case <-m.done:
			return
		}
	}
	m.end(p.Err())
}

// end closes every part, keeping the first reason.
func (m *mergedSub) end(err error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed, m.err = true, err
	close(m.done)
	m.mu.Unlock()
	for _, p := range m.parts {
		_ = p.Close()
	}
}

func (m *mergedSub) C() <-chan *Message { return m.ch }

func (m *mergedSub) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *mergedSub) Gap() bool {
	for _, p := range m.parts {
		if p.Gap() {
			return true
		}
	}
	return false
}

func (m *mergedSub) part(msg *Message) Subscription {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.origin[msg]
	delete(m.origin, msg)
	return p
}

func (m *mergedSub) Ack(msg *Message) error {
	if p := m.part(msg); p != nil {
		return p.Ack(msg)
	}
	return nil
}

func (m *mergedSub) Nack(msg *Message, requeue bool) error {
	if p := m.part(msg); p != nil {
		return p.Nack(msg, requeue)
	}
	return nil
}

// Close ends the subscription and waits for its goroutines.
func (m *mergedSub) Close() error {
	m.end(ErrClosed)
	<-m.finished
	return nil
}
