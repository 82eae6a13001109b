// Package obstest records what transports report to a transport.Observer,
// for tests: each event is kept in order, and Wait blocks (on a signal,
// not a timer) until the events recorded satisfy a condition.
package obstest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/transport"
)

// Event kinds.
const (
	ConnOpened = "conn_opened"
	ConnClosed = "conn_closed"
	SubStarted = "sub_started"
	SubEnded   = "sub_ended"
	Published  = "published"
	Delivered  = "delivered"
)

// Event is one recorded call.
type Event struct {
	Kind      string
	Transport string
	Filters   []string            // SubStarted, SubEnded
	Reason    transport.EndReason // SubEnded
	Refused   bool                // SubEnded
	Err       error               // SubEnded, Published
	Topic     string              // Published, Delivered ("" for a nil Message)
	Bytes     int                 // Published, Delivered
}

func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.Kind, e.Transport)
	if e.Reason != "" {
		fmt.Fprintf(&b, " reason=%s", e.Reason)
	}
	if e.Topic != "" {
		fmt.Fprintf(&b, " topic=%s", e.Topic)
	}
	if e.Bytes != 0 {
		fmt.Fprintf(&b, " bytes=%d", e.Bytes)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, " err=%v", e.Err)
	}
	return b.String()
}

// Recorder records events. Create it with New.
type Recorder struct {
	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced on each event
}

// New returns an empty Recorder.
func New() *Recorder { return &Recorder{changed: make(chan struct{})} }

func (r *Recorder) add(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Observer returns an Observer recording into r.
func (r *Recorder) Observer() *transport.Observer {
	return &transport.Observer{
		ConnOpened: func(ev transport.ConnEvent) { r.add(Event{Kind: ConnOpened, Transport: ev.Transport}) },
		ConnClosed: func(ev transport.ConnEvent) { r.add(Event{Kind: ConnClosed, Transport: ev.Transport}) },
		SubStarted: func(ev transport.SubEvent) {
			r.add(Event{Kind: SubStarted, Transport: ev.Transport, Filters: append([]string(nil), ev.Filters...)})
		},
		SubEnded: func(ev transport.SubEvent) {
			r.add(Event{Kind: SubEnded, Transport: ev.Transport, Filters: append([]string(nil), ev.Filters...), Reason: ev.Reason, Err: ev.Err, Refused: ev.Refused})
		},
		Published: func(ev transport.PublishEvent) {
			r.add(Event{Kind: Published, Transport: ev.Transport, Topic: ev.Message.Topic, Bytes: ev.Bytes, Err: ev.Err})
		},
		Delivered: func(ev transport.DeliveryEvent) {
			e := Event{Kind: Delivered, Transport: ev.Transport, Bytes: ev.Bytes}
			if ev.Message != nil {
				e.Topic = ev.Message.Topic
			}
			r.add(e)
		},
	}
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Of returns the recorded events of one kind.
func (r *Recorder) Of(kind string) []Event {
	var out []Event
	for _, e := range r.Events() {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// Wait blocks until cond holds for the events recorded, and fails t when
// 30 s pass first (a bound for a stuck test, not a timing assertion).
func (r *Recorder) Wait(t testing.TB, what string, cond func([]Event) bool) []Event {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		evs := append([]Event(nil), r.events...)
		ch := r.changed
		r.mu.Unlock()
		if cond(evs) {
			return evs
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("obstest: never saw %s; events: %v", what, evs)
			return nil
		}
	}
}

// WaitKind waits until n events of kind were recorded and returns them.
func (r *Recorder) WaitKind(t testing.TB, kind string, n int) []Event {
	t.Helper()
	r.Wait(t, fmt.Sprintf("%d %s", n, kind), func(evs []Event) bool {
		c := 0
		for _, e := range evs {
			if e.Kind == kind {
				c++
			}
		}
		return c >= n
	})
	return r.Of(kind)
}
