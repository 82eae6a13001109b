package pubsub

import (
	"context"
	"sync"
	"time"
)

// Defaults of the idempotency window every broker offers (MemoryOptions,
// amqpx.Options, mqttx.Options, …: DedupWindow and DedupSize).
const (
	// DefaultDedupWindow is how long a broker remembers a message ID by
	// default: a Publish repeating it within the window is answered with
	// the original Receipt and not delivered again.
	DefaultDedupWindow = 2 * time.Minute
	// DefaultDedupSize is how many IDs a broker remembers at most by
	// default; beyond it the oldest are forgotten before their window ends.
	// About 100 bytes each: 10 MB for the default.
	DefaultDedupSize = 100000
)

// Dedup remembers message IDs for a window, bounded in count, so that a
// broker can make Publish idempotent and drop the copies a network broker
// redelivers. A publisher-supplied Message.ID is the idempotency key: a
// Publish whose ID was accepted within the window returns the original
// Receipt and delivers nothing again. An ID counts per topic (a message
// dead-lettered keeps its ID on another topic).
//
// It serves both sides of a broker. Publish calls [Dedup.Begin] before
// sending and the returned end func after; the receiving side calls
// [Dedup.Deliver] for every message it is about to fan out, and drops the
// message when it reports a copy.
//
// A nil *Dedup is valid and remembers nothing (the window is off). All
// methods are safe for concurrent use.
type Dedup struct {
	window time.Duration
	size   int
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*dedupEntry
	order   []*dedupEntry // oldest first, from head
	head    int
}

type dedupEntry struct {
	key       string // topic "\x00" id
	at        time.Time
	rec       Receipt
	accepted  bool          // rec is known (a publish was confirmed, or a delivery seen)
	published bool          // rec came from a Publish (it wins over a delivery's)
	delivered bool          // a delivery of the ID was fanned out
	pending   chan struct{} // closed when a Publish in flight ends; nil when none
	gone      bool          // removed from entries
}

// NewDedup returns a Dedup remembering IDs for window, at most size of
// them. window 0 means DefaultDedupWindow and a negative window returns
// nil (off); size <= 0 means DefaultDedupSize (the count cannot be
// unbounded). now is the clock; nil means time.Now.
func NewDedup(window time.Duration, size int, now func() time.Time) *Dedup {
	if window < 0 {
		return nil
	}
	if window == 0 {
		window = DefaultDedupWindow
	}
	if size <= 0 {
		size = DefaultDedupSize
	}
	if now == nil {
		now = time.Now
	}
	return &Dedup{window: window, size: size, now: now, entries: make(map[string]*dedupEntry)}
}

// Window returns how long an ID is remembered (0 for a nil Dedup).
func (d *Dedup) Window() time.Duration {
	if d == nil {
		return 0
	}
	return d.window
}

func dedupKey(topic, id string) string { return topic + "\x00" + id }

// Lookup returns the Receipt of an ID accepted on topic within the window.
func (d *Dedup) Lookup(topic, id string) (Receipt, bool) {
	if d == nil || id == "" {
		return Receipt{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expireLocked(d.now())
	e := d.entries[dedupKey(topic, id)]
	if e == nil || !e.accepted {
		return Receipt{}, false
	}
	return e.rec, true
}

// Record remembers that a Publish to topic was accepted with rec (its ID
// the key), unless the ID is remembered with a published Receipt already
// (the original one wins).
func (d *Dedup) Record(topic string, rec Receipt) {
	if d == nil || rec.ID == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.acceptLocked(d.entryLocked(dedupKey(topic, rec.ID)), rec)
}

// acceptLocked sets a published receipt on e unless it has one; a
// delivery's cursor fills a receipt without one. d.mu held.
func (d *Dedup) acceptLocked(e *dedupEntry, r Receipt) {
	if e.published {
		return
	}
	if r.Cursor == "" && e.accepted {
		r.Cursor = e.rec.Cursor
	}
	e.rec, e.accepted, e.published = r, true, true
}

// Begin starts a Publish to topic of a message with a publisher-supplied id. When
// the ID was accepted within the window it returns the original Receipt
// and dup true: the caller must not publish. When another Publish of the
// same ID is in flight, Begin waits for it to end (or for ctx). Otherwise
// the caller publishes and then calls end once with the outcome: a
// Receipt with a nil error is remembered, an error forgets the attempt so
// that a retry publishes again. An empty id (the broker assigns one) is
// never a duplicate; end is then a no-op.
func (d *Dedup) Begin(ctx context.Context, topic, id string) (rec Receipt, dup bool, end func(Receipt, error), err error) {
	if d == nil || id == "" {
		return Receipt{}, false, func(Receipt, error) {}, nil
	}
	key := dedupKey(topic, id)
	for {
		d.mu.Lock()
		d.expireLocked(d.now())
		e := d.entries[key]
		switch {
		case e != nil && e.pending != nil:
			// In flight here: its own receipt is the original, even when
			// the broker delivered the message before confirming it.
			wait := e.pending
			d.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return Receipt{}, false, nil, ctx.Err()
			}
		case e != nil && e.accepted:
			r := e.rec
			d.mu.Unlock()
			return r, true, nil, nil
		}
		e = d.entryLocked(key)
		e.pending = make(chan struct{})
		d.mu.Unlock()
		return Receipt{}, false, func(r Receipt, err error) { d.end(e, r, err) }, nil
	}
}

func (d *Dedup) end(e *dedupEntry, r Receipt, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	close(e.pending)
	e.pending = nil
	if err == nil {
		d.acceptLocked(e, r)
		e.at = d.now() // the window counts from the acceptance
	}
}

// Deliver reports whether m is the first delivery of its ID within the
// window, and remembers it. A false answer means a copy (the network
// broker redelivered it, or a publisher repeated it through another node):
// drop it. Copies are recognised by topic and ID; a message without an ID
// is always delivered, and so is a dead letter (HeaderDeadLetterReason
// set): two groups may each dead-letter one message, with its ID, to one
// topic, so a dead letter is delivered at least once rather than taken
// for a copy.
func (d *Dedup) Deliver(m *Message) bool { return d.DeliverTo("", m) }

// DeliverTo is Deliver for one of several consumers that each receive
// their own copy from the network broker (an MQTT client's overlapping
// subscriptions, say): scope names the consumer, and m is a copy only if
// it was delivered to the same scope. The ID's Receipt is remembered for
// Publish all the same.
func (d *Dedup) DeliverTo(scope string, m *Message) bool {
	if d == nil || m.ID == "" || deadLetter(m) {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := dedupKey(m.Topic, m.ID)
	e := d.entryLocked(key)
	if !e.accepted {
		e.rec, e.accepted = Receipt{ID: m.ID, Cursor: m.Cursor, Time: m.Time}, true
	} else if e.rec.Cursor == "" {
		e.rec.Cursor = m.Cursor
	}
	if scope != "" {
		e = d.entryLocked(scope + "\x00" + key)
	}
	if e.delivered {
		return false
	}
	e.delivered = true
	return true
}

// Copy reports whether m, read back from history, is a copy of a message
// delivered within the window under another cursor (a network broker that
// stored a redelivered message twice): a replay drops it.
func (d *Dedup) Copy(m *Message) bool {
	if d == nil || m.ID == "" || m.Cursor == "" || deadLetter(m) {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.entries[dedupKey(m.Topic, m.ID)]
	return e != nil && e.delivered && e.rec.Cursor != "" && e.rec.Cursor != m.Cursor
}

// deadLetter reports whether m is a dead letter (see Deliver).
func deadLetter(m *Message) bool { return m.Header[HeaderDeadLetterReason] != "" }

// Len returns how many IDs are remembered now.
func (d *Dedup) Len() int {
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expireLocked(d.now())
	return len(d.entries)
}

// entryLocked returns the entry of id, creating it (and making room) when
// there is none; d.mu held.
func (d *Dedup) entryLocked(key string) *dedupEntry {
	now := d.now()
	d.expireLocked(now)
	if e := d.entries[key]; e != nil {
		return e
	}
	for len(d.entries) >= d.size && d.popLocked() {
	}
	e := &dedupEntry{key: key, at: now}
	d.entries[key] = e
	d.order = append(d.order, e)
	return e
}

// expireLocked forgets the entries older than the window; d.mu held.
func (d *Dedup) expireLocked(now time.Time) {
	for d.head < len(d.order) {
		e := d.order[d.head]
		if !e.gone && now.Sub(e.at) < d.window {
			break
		}
		d.popLocked()
	}
}

// popLocked forgets the oldest entry; d.mu held. An entry whose Publish
// is in flight is not in the map any more but its end still works.
func (d *Dedup) popLocked() bool {
	if d.head >= len(d.order) {
		return false
	}
	e := d.order[d.head]
	d.order[d.head] = nil
	d.head++
	if !e.gone {
		e.gone = true
		delete(d.entries, e.key)
	}
	if d.head > 1024 && d.head*2 > len(d.order) {
		d.order = append(d.order[:0:0], d.order[d.head:]...)
		d.head = 0
	}
	return true
}
