// Package coalesce bounds how often a connection writes, for the
// transports that write in bursts (sse's taken-over streams, ws): a
// connection that wrote less than the hold ago waits until the hold has
// passed since that write, so a busy connection's messages travel together
// in one system call while a quiet connection's message goes out at once.
//
// A Queue holds the waiting connections of one handler and restarts each
// one when its time has come: one timer for all of them, armed for the
// earliest, and no goroutine while none waits.
package coalesce

import (
	"sync"
	"time"
)

// Due returns when a connection that last wrote at last may write again
// with the given hold, and whether that is still to come. A zero last (it
// never wrote) or a hold <= 0 never waits.
func Due(last time.Time, hold time.Duration) (time.Time, bool) {
	if hold <= 0 || last.IsZero() {
		return time.Time{}, false
	}
	due := last.Add(hold)
	return due, time.Until(due) > 0
}

// Queue holds values until their due time, then calls Release with each,
// on a goroutine of its own (a timer's). The zero value is not usable: set
// Release.
type Queue[T any] struct {
	Release func(T)

	mu    sync.Mutex
	held  []entry[T]
	timer *time.Timer
	next  time.Time // when timer fires; zero when it is not armed
}

type entry[T any] struct {
	v   T
	due time.Time
}

// Add holds v until due.
func (q *Queue[T]) Add(v T, due time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.held = append(q.held, entry[T]{v, due})
	if !q.next.IsZero() && !due.Before(q.next) {
		return
	}
	q.next = due
	if q.timer == nil {
		q.timer = time.AfterFunc(time.Until(due), q.fire)
	} else {
		q.timer.Reset(time.Until(due))
	}
}

// Len returns how many values are held.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.held)
}

// fire releases the values whose time has come and arms the timer for the
// rest.
func (q *Queue[T]) fire() {
	now := time.Now()
	var ready []T
	q.mu.Lock()
	keep := q.held[:0]
	var next time.Time
	for _, e := range q.held {
		if !e.due.After(now) {
			ready = append(ready, e.v)
			continue
		}
		keep = append(keep, e)
		if next.IsZero() || e.due.Before(next) {
			next = e.due
		}
	}
	clear(q.held[len(keep):])
	q.held = keep
	q.next = next
	if !next.IsZero() {
		q.timer.Reset(time.Until(next))
	}
	q.mu.Unlock()
	for _, v := range ready {
		q.Release(v)
	}
}
