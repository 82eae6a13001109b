package pubsub

import (
	"context"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Feed is the delivery side of one subscription, for Broker
// implementations: the bounded channel C, the overflow policy, the reason
// the subscription ended (Err), and replay-then-live (a backlog larger
// than the buffer delivered from a goroutine while live messages wait,
// then live delivery with no gap and no duplicate). Memory, amqpx, mqttx,
// natsx and redisx build their subscriptions on it.
//
// Embed a *Feed in the subscription type: C and Err come with it; the
// broker writes Close (End, then detach from its routing), Gap, Ack and
// Nack. The broker offers live messages with Offer and ends the feed with
// End. A subscription that starts with a backlog calls Hold before it can
// be offered live messages, then Replay once, on a goroutine the broker
// owns and waits for.
//
// All methods are safe for concurrent use. Offer and End never block.
// Messages offered one after the other (by one routing goroutine, or under
// a broker lock) reach C in that order.
type Feed struct {
	ch     chan *Message
	done   chan struct{} // closed when the feed ends
	policy OverflowPolicy

	// serial is set by Memory, which makes every Offer and End under its
	// own lock (b.mu) and never a stalling Replay: while live is true,
	// only b.mu holders touch closed, last and ch, so Offer sends without
	// f.mu. Other feeds always take f.mu.
	serial bool
	// live is false from Hold until Replay hands delivery over.
	live atomic.Bool

	// notify, when set, is called after a message is put on ch and
	// after ch is closed (Notify).
	notify atomic.Pointer[func()]

	mu        sync.Mutex
	closed    bool
	err       error
	last      string      // cursor of the last message put on ch
	replaying bool        // Replay owns sends to ch and closing it
	held      []*Message  // live messages held back during a replay
	stop      func() bool // stops Watch's context.AfterFunc
}

// NewFeed returns a live feed whose channel holds buffer messages (0 or a
// negative value means DefaultBuffer) and which applies policy when that
// channel is full.
func NewFeed(buffer int, policy OverflowPolicy) *Feed {
	f := new(Feed)
	f.setup(buffer, policy, false)
	return f
}

func (f *Feed) setup(buffer int, policy OverflowPolicy, serial bool) {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	f.ch = make(chan *Message, buffer)
	f.done = make(chan struct{})
	f.policy, f.serial = policy, serial
	f.live.Store(true)
}

// C returns the delivery channel. It is closed when the feed ends, or,
// when the feed ends during a replay, when Replay returns.
func (f *Feed) C() <-chan *Message { return f.ch }

// Err returns nil while the feed is active and the error it ended with
// after that.
func (f *Feed) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Done returns a channel that is closed when the feed ends, before C is
// closed. A broker stops work for the subscription (a history read) on it.
func (f *Feed) Done() <-chan struct{} { return f.done }

// Offer delivers a live message without waiting. When C is full it applies
// the policy: OverflowDropOldest discards the oldest buffered message,
// OverflowClose ends the feed with a *SlowConsumerError carrying the
// cursor of the last message put on C. Between Hold and the end of Replay
// the message is held back instead, up to the buffer size, under the same
// policy. Offer reports whether it ended the feed, so the caller detaches
// the subscription; on an ended feed it does nothing.
func (f *Feed) Offer(m *Message) (ended bool) {
	if f.serial && f.live.Load() && !f.closed {
		select {
		case f.ch <- m:
			f.last = m.Cursor
			f.notified()
			return false
		default:
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	if f.replaying {
		if len(f.held) >= cap(f.ch) {
			if f.policy != OverflowDropOldest {
				return f.endSlowLocked()
			}
			f.held = slices.Delete(f.held, 0, 1)
		}
		f.held = append(f.held, m)
		return false
	}
	if f.putLocked(m) {
		return false
	}
	if f.policy == OverflowDropOldest {
		select {
		case <-f.ch:
		default:
		}
		f.putLocked(m)
		return false
	}
	return f.endSlowLocked()
}

// End ends the feed with err, which Err reports from then on, and reports
// whether this call ended it; later calls do nothing. C is closed at once,
// or by Replay if one is running. End does not wait.
func (f *Feed) End(err error) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.endLocked(err)
}

// Watch ends the subscription when ctx is done, by calling end (the
// subscription's own end, which calls End and detaches it) with ctx's
// error, unless the feed has ended first. Call it at most once.
func (f *Feed) Watch(ctx context.Context, end func(error)) {
	if ctx.Done() == nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { end(ctx.Err()) })
	f.mu.Lock()
	closed := f.closed
	if !closed {
		f.stop = stop
	}
	f.mu.Unlock()
	if closed {
		stop()
	}
}

// Hold starts a replay: from now on Offer holds live messages back until
// Replay has delivered the backlog. Call it before the subscription can
// be offered the live messages that must follow the backlog (before it
// joins the broker's routing), then call Replay exactly once, even when
// the replay cannot start (with a nil backlog, after End): until Replay
// returns, C stays open.
func (f *Feed) Hold() {
	f.mu.Lock()
	f.replaying = true
	f.live.Store(false)
	f.mu.Unlock()
}

// Replay delivers backlog, then the live messages held back since Hold,
// then hands delivery back to Offer. It waits for room on C, so run it on
// a goroutine the broker owns (and waits for when it closes). It stops
// when the feed ends, and then closes C.
//
// skip, if not nil, drops held messages the consumer already has: a
// broker that joins live delivery before it reads its history's head
// passes "cursor at or before that head". stall, if positive, bounds how
// long one backlog message waits for room; then Replay ends the feed with
// a *SlowConsumerError (a replay may hold a server resource a stalled
// consumer must not keep). Replay reports whether it ended the feed, so
// the caller detaches the subscription.
func (f *Feed) Replay(backlog iter.Seq[*Message], skip func(*Message) bool, stall time.Duration) (ended bool) {
	if backlog != nil {
		for m := range backlog {
			var sent bool
			if sent, ended = f.send(m, stall); !sent {
				break
			}
		}
	}
	for {
		f.mu.Lock()
		if f.closed {
			f.replaying = false
			f.held = nil
			close(f.ch)
			f.mu.Unlock()
			f.notified()
			return ended
		}
		batch := f.held
		f.held = nil
		if len(batch) == 0 {
			f.replaying = false
			f.live.Store(true)
			f.mu.Unlock()
			return false
		}
		f.mu.Unlock()
		for _, m := range batch {
			if skip != nil && skip(m) {
				continue
			}
			if sent, _ := f.send(m, 0); !sent {
				break
			}
		}
	}
}

// send puts m on C for Replay, waiting for room up to stall (0: as long
// as the feed lasts). It reports whether m was sent, and whether a stall
// ended the feed.
func (f *Feed) send(m *Message, stall time.Duration) (sent, ended bool) {
	select {
	case <-f.done:
		return false, false
	default:
	}
	select {
	case f.ch <- m:
	default:
		var timeout <-chan time.Time
		if stall > 0 {
			t := time.NewTimer(stall)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case f.ch <- m:
		case <-f.done:
			return false, false
		case <-timeout:
			f.mu.Lock()
			ended = f.endSlowLocked()
			f.mu.Unlock()
			return false, ended
		}
	}
	f.mu.Lock()
	f.last = m.Cursor
	if sc, ok := f.err.(*SlowConsumerError); ok {
		sc.LastCursor = m.Cursor // the feed overflowed meanwhile
	}
	f.mu.Unlock()
	f.notified()
	return true, false
}

// put puts m on C if there is room, with no overflow policy: Memory's
// groups and ManualAck deliveries keep their own backlog.
func (f *Feed) put(m *Message) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.closed && f.putLocked(m)
}

// putLocked puts m on C if there is room; f.mu held.
func (f *Feed) putLocked(m *Message) bool {
	select {
	case f.ch <- m:
		f.last = m.Cursor
		f.notified()
		return true
	default:
		return false
	}
}

// endSlow ends the feed as a slow consumer.
func (f *Feed) endSlow() {
	f.mu.Lock()
	f.endSlowLocked()
	f.mu.Unlock()
}

func (f *Feed) endSlowLocked() bool {
	return f.endLocked(&SlowConsumerError{LastCursor: f.last})
}

// endLocked ends the feed; f.mu held. C is closed here unless Replay owns
// it, which closes it on return.
func (f *Feed) endLocked(err error) bool {
	if f.closed {
		return false
	}
	f.closed = true
	f.err = err
	close(f.done)
	if !f.replaying {
		close(f.ch)
		f.notified()
	}
	if f.stop != nil {
		f.stop()
	}
	return true
}

// Notifier is a Subscription that can announce its deliveries, so that a
// transport serves it without a goroutine waiting on C: an idle
// connection then costs no goroutine. Every subscription built on Feed is
// one (Memory's, amqpx's, mqttx's, natsx's and redisx's, except group
// queues that keep their own channel); a transport that finds a
// subscription is not falls back to receiving from C on a goroutine.
type Notifier interface {
	Notify(fn func())
}

// Notify makes the feed call fn after each message it puts on C and after
// it closes C, and once now, so that nothing delivered before the call is
// missed. fn may run on any goroutine, concurrently with itself, and while
// a broker holds its locks: it must not block and must not call the
// subscription; it typically records that there is work and wakes or
// starts a goroutine that receives from C without blocking (select with a
// default) until C is empty. A nil fn stops the calls. Notify implements
// Notifier.
func (f *Feed) Notify(fn func()) {
	if fn == nil {
		f.notify.Store(nil)
		return
	}
	f.notify.Store(&fn)
	fn()
}

// notified calls the Notify function, if any.
func (f *Feed) notified() {
	if fn := f.notify.Load(); fn != nil {
		(*fn)()
	}
}
