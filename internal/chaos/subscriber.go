package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// subscriber is one client of one transport that stays subscribed to its
// world's filter for the whole run. The chaos loop kills its connection at
// random; it then reconnects, to another hub when its world has one,
// resuming from its last cursor.
type subscriber struct {
	name, kind string
	world      *world
	killable   bool // reconnects lose nothing (the hub keeps history), or the gap is signalled
	run        func(ctx context.Context, s *subscriber, h *hub) error
	t          *tally

	mu     sync.Mutex
	cursor string
	cancel context.CancelFunc // ends the current session
	hub    *hub

	sessions  atomic.Int64 // sessions started
	failures  atomic.Int64 // sessions that ended without our kill
	lastError atomic.Value // string
}

func (s *subscriber) setCursor(c string) {
	if c == "" {
		return
	}
	s.mu.Lock()
	s.cursor = c
	s.mu.Unlock()
}

func (s *subscriber) getCursor() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor
}

// kill ends the current session as a dropped connection would; false when
// there is none, or the subscriber cannot resume yet (no cursor; MQTT
// subscribers have none: each of their reconnects is a gap).
func (s *subscriber) kill() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil || (s.world.history && s.kind != "mqtt" && s.cursor == "") {
		return false
	}
	s.cancel()
	s.cancel = nil
	return true
}

// killOn ends the current session if it is on hub h (which is going down),
// so the subscriber moves to another hub.
func (s *subscriber) killOn(h *hub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil && s.hub == h {
		s.cancel()
		s.cancel = nil
	}
}

// loop runs sessions until ctx is done.
func (s *subscriber) loop(ctx context.Context) {
	var prev *hub
	for ctx.Err() == nil {
		h := s.world.pick(prev)
		if s.kind == "mqtt" && !s.world.moveMQTT && prev != nil && prev.isUp() {
			// Without a cursor a client cannot tell a hub where it was: on
			// a hub whose broker link lags (after a fault) it would get the
			// messages it already had from the other hub again. An MQTT
			// subscriber therefore stays on its hub while it is up.
			h = prev
		}
		if h == nil {
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		prev = h
		sctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		s.cancel, s.hub = cancel, h
		s.mu.Unlock()
		s.sessions.Add(1)
		err := s.run(sctx, s, h)
		killed := sctx.Err() != nil
		cancel()
		if ctx.Err() != nil {
			return
		}
		if killed && s.world.forget {
			s.mu.Lock()
			s.cursor = ""
			s.mu.Unlock()
		}
		if !killed {
			s.failures.Add(1)
			if err != nil {
				s.lastError.Store(err.Error())
			}
		}
		// A short pause, as a client's reconnect backoff.
		sleep(ctx, time.Duration(20+rand.IntN(80))*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

var errEnded = errors.New("stream ended")
