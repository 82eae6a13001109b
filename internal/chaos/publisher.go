package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// pubConn is one connection of a publisher to a hub.
type pubConn interface {
	// publish sends one message with its idempotency key and waits for
	// the hub's acknowledgement.
	publish(ctx context.Context, topic, key string, data []byte) error
	close()
}

// publisher publishes payloads numbered 1, 2, … one at a time to its own
// topic. A failed publish is retried with the same key until it is
// acknowledged, after reconnecting (to another hub when the world has one).
type publisher struct {
	name, kind string
	world      *world
	topic      string
	run        string // the run's id, part of every key
	dial       func(ctx context.Context, h *hub) (pubConn, error)

	mu     sync.Mutex
	conn   pubConn
	hub    *hub
	cancel context.CancelFunc // of the attempt in flight

	acked    atomic.Int64 // highest acknowledged sequence number
	started  atomic.Int64 // highest sequence number whose first attempt began
	attempts atomic.Int64
	errs     atomic.Int64
	lastErr  atomic.Value // string
}

// kill drops the publisher's connection (and fails the publish in flight).
func (p *publisher) kill() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		return false
	}
	if p.cancel != nil {
		p.cancel()
	}
	p.conn.close()
	p.conn = nil
	return true
}

// killOn drops the connection if it is to hub h.
func (p *publisher) killOn(h *hub) {
	p.mu.Lock()
	on := p.hub == h
	p.mu.Unlock()
	if on {
		p.kill()
	}
}

func (p *publisher) connect(ctx context.Context) (pubConn, error) {
	p.mu.Lock()
	c, prev := p.conn, p.hub
	p.mu.Unlock()
	if c != nil {
		return c, nil
	}
	h := p.world.pick(prev)
	if h == nil {
		return nil, fmt.Errorf("no hub up")
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := p.dial(dctx, h)
	if err != nil {
		p.mu.Lock()
		p.hub = h // the next attempt tries another
		p.mu.Unlock()
		return nil, err
	}
	p.mu.Lock()
	p.conn, p.hub = c, h
	p.mu.Unlock()
	return c, nil
}

// loop publishes until stop is closed (it then finishes the message in
// flight) or ctx is done (it then gives up on it).
func (p *publisher) loop(ctx context.Context, stop <-chan struct{}, interval time.Duration) {
	defer p.kill()
	for seq := 1; ; seq++ {
		select {
		case <-stop:
			return
		default:
		}
		key := p.run + "-" + p.name + "-" + strconv.Itoa(seq)
		data, _ := json.Marshal(payload{P: p.name, S: seq})
		p.started.Store(int64(seq))
		backoff := 50 * time.Millisecond
		for {
			if ctx.Err() != nil {
				return
			}
			err := p.attempt(ctx, key, data)
			p.attempts.Add(1)
			if err == nil {
				p.acked.Store(int64(seq))
				break
			}
			p.errs.Add(1)
			p.lastErr.Store(err.Error())
			p.kill()
			sleep(ctx, backoff+time.Duration(rand.Int64N(int64(backoff))))
			backoff = min(2*backoff, time.Second)
		}
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func (p *publisher) attempt(ctx context.Context, key string, data []byte) error {
	c, err := p.connect(ctx)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	p.mu.Lock()
	p.cancel = cancel
	p.mu.Unlock()
	err = c.publish(actx, p.topic, key, data)
	p.mu.Lock()
	p.cancel = nil
	p.mu.Unlock()
	return err
}
