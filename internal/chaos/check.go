package main

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"sync"
)

// payload is what every chaos publisher sends: its name and a sequence
// number counting from 1. The barrier publisher uses the name "barrier".
type payload struct {
	P string `json:"p"`
	S int    `json:"s"`
}

const barrierName = "barrier"

// tally checks one subscriber's stream against the contract: every message
// of every publisher exactly once and in that publisher's order, or an
// explicit gap signal before the first message after a hole.
type tally struct {
	mu      sync.Mutex
	pubs    map[string]*stream
	barrier bool // a barrier message arrived: the subscription is live
	// started returns, per publisher, the highest sequence number whose
	// first attempt has begun; nil means unknown (a gap then explains any
	// hole up to the next message). A gap signal explains no message
	// first published after the client saw it: its subscription was live.
	started func() map[string]int
	// pendingTo: a gap signal came before some publisher's first message;
	// it explains that publisher's messages up to the bound.
	pendingTo  map[string]int
	pendingAll int // the bound for publishers started did not name
	gaps       map[string]int
	dups       int
	reorders   int
	bad        int // undecodable payloads
	notes      []string
}

// stream is one publisher's messages as one subscriber saw them.
type stream struct {
	last      int
	got       []bool // got[seq]
	gapOpen   bool   // a gap signal came after the last message of this publisher
	gapTo     int    // it explains a hole up to gapTo
	explained [][2]int
}

// newTally returns a tally; started is as in tally (nil: unknown).
func newTally(started func() map[string]int) *tally {
	return &tally{pubs: make(map[string]*stream), gaps: make(map[string]int), pendingTo: make(map[string]int), started: started}
}

// gap records an explicit gap signal: the next hole in every publisher's
// sequence is explained by it, up to what the publisher had started to
// publish by now. Call it once the subscription is live again.
func (t *tally) gap(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gaps[reason]++
	t.openLocked(false)
}

// extend raises the bounds of the gaps still open (no message since) to
// what the publishers started by now: for a client that learns of its gap
// before its subscription is live again (MQTT's CONNACK comes before the
// SUBACK), called once it is.
func (t *tally) extend() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.openLocked(true)
}

func (t *tally) openLocked(onlyOpen bool) {
	var started map[string]int
	all := math.MaxInt
	if t.started != nil {
		started, all = t.started(), 0
	}
	bound := func(name string) int {
		if n, ok := started[name]; ok {
			return n
		}
		return all
	}
	for name, s := range t.pubs {
		if !onlyOpen || s.gapOpen {
			s.gapOpen, s.gapTo = true, max(s.gapTo, bound(name))
		}
	}
	for name, n := range started {
		if _, seen := t.pubs[name]; seen {
			continue
		}
		if _, pending := t.pendingTo[name]; !onlyOpen || pending {
			t.pendingTo[name] = max(t.pendingTo[name], n)
		}
	}
	if !onlyOpen || t.pendingAll > 0 {
		t.pendingAll = max(t.pendingAll, all)
	}
}

// newStreamLocked is the stream of a publisher seen for the first time.
func (t *tally) newStreamLocked(pub string) *stream {
	_, pending := t.pendingTo[pub]
	return &stream{gapOpen: pending || t.pendingAll > 0, gapTo: t.pendingLocked(pub)}
}

// pendingLocked is the bound of the gaps that came before pub's first
// message.
func (t *tally) pendingLocked(pub string) int {
	if n, ok := t.pendingTo[pub]; ok {
		return max(n, t.pendingAll)
	}
	return t.pendingAll
}

// deliver records one delivered payload; ok false means it was not one of
// ours (and is counted as bad).
func (t *tally) deliver(data []byte) {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil || p.P == "" || p.S <= 0 {
		t.mu.Lock()
		t.bad++
		if len(t.notes) < 5 {
			t.notes = append(t.notes, fmt.Sprintf("undecodable payload %.60q", data))
		}
		t.mu.Unlock()
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.P == barrierName {
		t.barrier = true
		return
	}
	s := t.pubs[p.P]
	if s == nil {
		// The first message of this publisher: its stream started at 1
		// (publishers start after every subscriber passed the barrier).
		s = t.newStreamLocked(p.P)
		t.pubs[p.P] = s
	}
	for len(s.got) <= p.S {
		s.got = append(s.got, false)
	}
	switch {
	case s.got[p.S]:
		t.dups++
		if len(t.notes) < 100 {
			t.notes = append(t.notes, fmt.Sprintf("duplicate %s #%d", p.P, p.S))
		}
		return
	case p.S < s.last:
		t.reorders++
		if len(t.notes) < 100 {
			t.notes = append(t.notes, fmt.Sprintf("out of order %s #%d after #%d", p.P, p.S, s.last))
		}
	case p.S > s.last+1 && s.gapOpen && s.gapTo > s.last:
		s.explained = append(s.explained, [2]int{s.last + 1, min(p.S-1, s.gapTo)})
	}
	s.got[p.S] = true
	if p.S > s.last {
		s.last = p.S
	}
	s.gapOpen, s.gapTo = false, 0
}

// live reports whether a barrier message arrived.
func (t *tally) live() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.barrier
}

// has reports whether seq of publisher pub arrived, or a gap explains its
// absence so far (the drain waits for neither).
func (t *tally) has(pub string, seq int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.pubs[pub]
	if s == nil {
		s = t.newStreamLocked(pub)
	}
	return seq < len(s.got) && s.got[seq] || s.gapOpen && seq <= s.gapTo || s.last >= seq
}

// result is what one subscriber's tally comes to against the publishers'
// acknowledged counts.
type result struct {
	delivered, lost, explained, dups, reorders, bad int
	gaps                                            map[string]int
	lostRanges                                      []string
	notes                                           []string
}

// settle compares the tally with acked (publisher name → highest
// acknowledged sequence number; everything up to it was published).
func (t *tally) settle(acked map[string]int) result {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := result{dups: t.dups, reorders: t.reorders, bad: t.bad, gaps: t.gaps, notes: t.notes}
	names := make([]string, 0, len(acked))
	for n := range acked {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		n := acked[name]
		s := t.pubs[name]
		if s == nil {
			s = t.newStreamLocked(name)
		}
		start := -1
		flush := func(end int) {
			if start >= 0 {
				r.lostRanges = append(r.lostRanges, fmt.Sprintf("%s #%d-%d", name, start, end))
				start = -1
			}
		}
		for seq := 1; seq <= n; seq++ {
			switch {
			case seq < len(s.got) && s.got[seq]:
				r.delivered++
				flush(seq - 1)
			case explainedBy(s.explained, seq) || (s.gapOpen && seq > s.last && seq <= s.gapTo):
				r.explained++
				flush(seq - 1)
			default:
				r.lost++
				if start < 0 {
					start = seq
				}
			}
		}
		flush(n)
		// Deliveries beyond acked: the publisher's last, unacknowledged
		// attempt may have gone through; count it as delivered.
		for seq := n + 1; seq < len(s.got); seq++ {
			if s.got[seq] {
				r.delivered++
			}
		}
	}
	return r
}

func explainedBy(rs [][2]int, seq int) bool {
	for _, x := range rs {
		if seq >= x[0] && seq <= x[1] {
			return true
		}
	}
	return false
}
