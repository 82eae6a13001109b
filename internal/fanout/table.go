package fanout

import (
	"slices"
	"sync"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Sub is what a Table holds: a subscription on one or more filters. Its
// Filters must not change while it is attached.
type Sub interface {
	comparable
	Filters() []pubsub.Filter
}

// Table hands messages to the matching subscriptions (see the package
// doc). The zero value is not usable: call New.
type Table[S Sub] struct {
	mu     sync.RWMutex
	exact  map[string][]S
	wild   map[string]*wildSubs[S]
	closed bool
}

// wildSubs is the subscriptions attached under one wildcard filter.
type wildSubs[S Sub] struct {
	f    pubsub.Filter
	subs []S
}

// New returns an empty, open Table.
func New[S Sub]() *Table[S] {
	return &Table[S]{exact: make(map[string][]S), wild: make(map[string]*wildSubs[S])}
}

// Add attaches s under each of its filters; it reports false once the
// table is closed (see CloseAll).
func (t *Table[S]) Add(s S) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	for _, filter := range s.Filters() {
		key := filter.String()
		if !filter.Wildcard() {
			t.exact[key] = append(t.exact[key], s)
			continue
		}
		w := t.wild[key]
		if w == nil {
			w = &wildSubs[S]{f: filter}
			t.wild[key] = w
		}
		w.subs = append(w.subs, s)
	}
	return true
}

// Remove detaches s from all its filters; it reports whether s was
// attached.
func (t *Table[S]) Remove(s S) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	del := func(list []S) ([]S, bool) {
		i := slices.Index(list, s)
		if i < 0 {
			return list, false
		}
		return slices.Delete(list, i, i+1), true
	}
	removed := false
	for _, filter := range s.Filters() {
		key := filter.String()
		var ok bool
		if !filter.Wildcard() {
			var list []S
			list, ok = del(t.exact[key])
			if len(list) == 0 {
				delete(t.exact, key)
			} else {
				t.exact[key] = list
			}
		} else if w := t.wild[key]; w != nil {
			w.subs, ok = del(w.subs)
			if len(w.subs) == 0 {
				delete(t.wild, key)
			}
		}
		removed = removed || ok
	}
	return removed
}

// Deliver calls offer for every subscription with a filter matching topic,
// once per matching filter (each distinct wildcard filter is matched
// once), and returns dead with the subscriptions for which offer reported
// that they ended appended (the caller detaches them, outside Deliver:
// Deliver holds the table's read lock while it calls offer). A
// subscription found under several of its filters is passed to offer each
// time; offer sees them one after the other, never concurrently.
func (t *Table[S]) Deliver(topic string, offer func(S) (ended bool), dead []S) []S {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, s := range t.exact[topic] {
		if offer(s) {
			dead = append(dead, s)
		}
	}
	for _, w := range t.wild {
		if !w.f.Match(topic) {
			continue
		}
		for _, s := range w.subs {
			if offer(s) {
				dead = append(dead, s)
			}
		}
	}
	return dead
}

// CloseAll refuses further subscriptions (Add reports false) and returns
// the attached ones, once each. They stay attached: the caller ends them,
// and each removes itself.
func (t *Table[S]) CloseAll() []S {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	return t.All()
}

// All returns every attached subscription, once each.
func (t *Table[S]) All() []S {
	t.mu.RLock()
	defer t.mu.RUnlock()
	seen := make(map[S]struct{})
	var out []S
	add := func(l []S) {
		for _, s := range l {
			if _, ok := seen[s]; !ok {
				seen[s] = struct{}{}
				out = append(out, s)
			}
		}
	}
	for _, l := range t.exact {
		add(l)
	}
	for _, w := range t.wild {
		add(w.subs)
	}
	return out
}
