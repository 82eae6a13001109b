package amqpx

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/pubsub"
)

// node owns this process's one consumer queue. Every plain subscription on
// the node shares it: the queue carries one binding per distinct filter
// (reference-counted), and the fan-out delivers locally. The queue is not
// exclusive and expires Options.NodeQueueExpiry after the node went away,
// so a reconnect finds it — with the messages routed meanwhile — and
// resumes consuming. If it is gone, the node's subscriptions end with
// ErrQueueLost.
type node struct {
	b     *Broker
	queue string

	mu       sync.Mutex
	refs     map[string]int  // binding key → subscriptions using it
	unbind   map[string]bool // released while down: unbind on reconnect
	ctl      *amqp.Channel   // for binds; nil while down
	ready    chan struct{}   // closed while the queue is consumed
	declared bool            // the queue was declared at least once
	closing  bool            // the Broker is closing: the queue goes, skip unbinds

	// History mode: the node consumes the shared stream instead.
	history bool
	head    int64                    // offset of the newest stream message delivered; -1 before any
	waiters map[string][]chan uint64 // message id → Publish calls waiting for its stream offset

	wmu sync.Mutex // guards waiters

	first     chan error // the first session's setup result, sent once
	firstOnce sync.Once
	done      chan struct{} // closed when run returns
}

func newNode(b *Broker, queue string) *node {
	n := &node{b: b, queue: queue, refs: make(map[string]int), unbind: make(map[string]bool),
		ready: make(chan struct{}), first: make(chan error, 1), done: make(chan struct{}),
		head: -1, waiters: make(map[string][]chan uint64)}
	if b.opts.History {
		n.history = true
		n.queue = b.opts.HistoryStream
	}
	return n
}

// acquire adds a reference to key and returns once the binding exists
// (waiting for a reconnect if needed).
func (n *node) acquire(ctx context.Context, key string) error {
	n.mu.Lock()
	n.refs[key]++
	delete(n.unbind, key)
	if n.refs[key] > 1 || n.history { // the stream is bound to "#"
		ready := n.ready
		n.mu.Unlock()
		return n.wait(ctx, ready, key)
	}
	if n.ctl != nil {
		err := n.ctl.QueueBind(n.queue, key, n.b.opts.Exchange, false, nil)
		n.mu.Unlock()
		if err == nil {
			return nil
		}
		if !n.b.subConn.closedConn() {
			n.release(key)
			return fmt.Errorf("amqpx: failed to bind %q: %w", key, err)
		}
		// the connection is going down; the next session binds key
		n.mu.Lock()
	}
	ready := n.ready
	n.mu.Unlock()
	return n.wait(ctx, ready, key)
}

func (n *node) wait(ctx context.Context, ready chan struct{}, key string) error {
	for {
		select {
		case <-ready:
			n.mu.Lock()
			up, next := n.ctl != nil, n.ready
			n.mu.Unlock()
			if up {
				return nil
			}
			ready = next
		case <-ctx.Done():
			n.release(key)
			return ctx.Err()
		case <-n.b.ctx.Done():
			n.release(key)
			return pubsub.ErrClosed
		}
	}
}

// release drops a reference to key, unbinding it when it was the last.
func (n *node) release(key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.refs[key]--
	if n.refs[key] > 0 {
		return
	}
	delete(n.refs, key)
	if n.closing || n.history {
		return
	}
	if n.ctl != nil {
		if err := n.ctl.QueueUnbind(n.queue, key, n.b.opts.Exchange, nil); err == nil {
			return
		}
	}
	n.unbind[key] = true
}

// run consumes the node queue until ctx is done, across reconnects.
func (n *node) run(ctx context.Context) {
	defer close(n.done)
	for {
		conn, _, err := n.b.subConn.get(ctx)
		if err != nil {
			return
		}
		err = n.session(ctx, conn)
		if ctx.Err() != nil {
			return
		}
		n.b.log.Warn("amqpx: node queue consumer stopped", "queue", n.queue, "err", err)
		if !conn.IsClosed() {
			// a channel error on a live connection: do not spin
			if pause(ctx, n.b.opts.MinBackoff) != nil {
				return
			}
		}
	}
}

// setup declares the queue and its bindings on conn and starts consuming.
func (n *node) setup(conn *amqp.Connection) (ctl, cons *amqp.Channel, d <-chan amqp.Delivery, lost bool, err error) {
	fail := func(e error) (*amqp.Channel, *amqp.Channel, <-chan amqp.Delivery, bool, error) {
		if ctl != nil {
			_ = ctl.Close()
		}
		if cons != nil {
			_ = cons.Close()
		}
		return nil, nil, nil, false, e
	}
	if ctl, err = conn.Channel(); err != nil {
		return fail(err)
	}
	if n.history {
		if err := declareExchange(conn, &n.b.opts); err != nil {
			return fail(err)
		}
		if err := declareStream(ctl, &n.b.opts); err != nil {
			return fail(err)
		}
		if cons, err = conn.Channel(); err != nil {
			return fail(err)
		}
		if err := cons.Qos(n.b.opts.NodePrefetch, 0, false); err != nil {
			return fail(err)
		}
		var from any = "next"
		if w := n.b.dedup.Window(); w > 0 {
			// A starting node reads the dedup window's worth of the
			// stream first (Dial waits for it, so no subscription sees
			// those messages): it then knows the IDs stored meanwhile and
			// drops a second stored copy of one from history reads and
			// replays, even for a client resuming from the first copy's
			// cursor, read on another node.
			from = time.Now().Add(-w)
		}
		n.mu.Lock()
		if n.head >= 0 {
			from = n.head + 1 // resume where the last session stopped
		}
		n.mu.Unlock()
		if d, err = cons.Consume(n.queue, n.tag(), false, false, false, false, amqp.Table{"x-stream-offset": from}); err != nil {
			return fail(fmt.Errorf("amqpx: failed to consume the history stream: %w", err))
		}
		return ctl, cons, d, false, nil
	}
	if n.declared {
		if _, err := ctl.QueueDeclarePassive(n.queue, false, false, false, false, nil); err != nil {
			lost = true // 404: the channel is closed now
			if ctl, err = conn.Channel(); err != nil {
				return fail(err)
			}
		}
	}
	args := amqp.Table{"x-expires": int64(n.b.opts.NodeQueueExpiry.Milliseconds())}
	if _, err := ctl.QueueDeclare(n.queue, false, false, false, false, args); err != nil {
		return fail(fmt.Errorf("amqpx: failed to declare the node queue %q: %w", n.queue, err))
	}
	if err := declareExchange(conn, &n.b.opts); err != nil {
		return fail(err)
	}
	if cons, err = conn.Channel(); err != nil {
		return fail(err)
	}
	if err := cons.Qos(n.b.opts.NodePrefetch, 0, false); err != nil {
		return fail(err)
	}
	if d, err = cons.Consume(n.queue, n.tag(), false, false, false, false, nil); err != nil {
		return fail(fmt.Errorf("amqpx: failed to consume the node queue: %w", err))
	}
	return ctl, cons, d, lost, nil
}

// session runs one connection's worth of the node: it sets the queue up,
// restores its bindings and consumes it until ctx is done or the
// connection or a channel fails.
func (n *node) session(ctx context.Context, conn *amqp.Connection) error {
	ctl, cons, deliveries, lost, err := n.setup(conn)
	if err != nil {
		if !conn.IsClosed() {
			n.firstOnce.Do(func() { n.first <- err })
		}
		return err
	}
	n.firstOnce.Do(func() { n.first <- nil })
	defer func() {
		_ = cons.Cancel(n.tag(), false) // RabbitMQ 3.10 leaks stream consumers on a bare channel close
		_ = cons.Close()
	}()
	ctlClosed := ctl.NotifyClose(make(chan *amqp.Error, 1))
	if err := n.useControl(ctl); err != nil {
		_ = ctl.Close()
		return err
	}
	defer n.dropControl(ctl)
	if lost {
		n.b.log.Warn("amqpx: node queue was lost while disconnected", "queue", n.queue)
		n.endLive()
	}
	return n.consume(ctx, deliveries, ctlClosed)
}

// useControl brings the queue's bindings up to date on ctl (unbinding the
// keys released while the node was down, binding every key in use) and
// makes ctl the node's control channel: waiting acquires return.
func (n *node) useControl(ctl *amqp.Channel) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.history {
		clear(n.unbind) // the stream is bound to "#"
	} else if err := n.rebind(ctl); err != nil {
		return err
	}
	n.ctl = ctl
	n.declared = true
	close(n.ready)
	return nil
}

// rebind unbinds the released keys and binds every key in use. n.mu is
// held.
func (n *node) rebind(ctl *amqp.Channel) error {
	for key := range n.unbind {
		if err := ctl.QueueUnbind(n.queue, key, n.b.opts.Exchange, nil); err != nil {
			return fmt.Errorf("amqpx: failed to unbind %q: %w", key, err)
		}
		delete(n.unbind, key)
	}
	for key := range n.refs {
		if err := ctl.QueueBind(n.queue, key, n.b.opts.Exchange, false, nil); err != nil {
			return fmt.Errorf("amqpx: failed to bind %q: %w", key, err)
		}
	}
	return nil
}

// dropControl ends ctl's time as the node's control channel: acquires
// wait for the next session from now on.
func (n *node) dropControl(ctl *amqp.Channel) {
	n.mu.Lock()
	n.ctl = nil
	n.ready = make(chan struct{})
	n.mu.Unlock()
	_ = ctl.Close()
}

// consume hands the deliveries to the fan-out until the session ends,
// acknowledging them in batches: it keeps reading while deliveries are
// waiting and acknowledges everything so far when none is (or every
// NodePrefetch/2 deliveries).
func (n *node) consume(ctx context.Context, deliveries <-chan amqp.Delivery, ctlClosed <-chan *amqp.Error) error {
	var dead []*liveSub
	var last amqp.Delivery
	unacked := 0
	for {
		var d amqp.Delivery
		ok := true
		if unacked > 0 {
			select {
			case d, ok = <-deliveries:
			default:
				_ = last.Ack(true)
				unacked = 0
				continue
			}
		} else {
			select {
			case d, ok = <-deliveries:
			case err := <-ctlClosed:
				return fmt.Errorf("amqpx: node control channel closed: %v", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			return fmt.Errorf("amqpx: node queue deliveries ended")
		}
		skipped := n.deliver(&d, &dead)
		last = d
		unacked++
		if !skipped && unacked >= n.b.opts.NodePrefetch/2 {
			_ = d.Ack(true)
			unacked = 0
		}
	}
}

// deliver offers one delivery to the fan-out and detaches the
// subscriptions it ended; dead is scratch space for them. It reports
// whether the delivery was skipped (in history mode, a stream chunk
// replayed from before the resume point).
func (n *node) deliver(d *amqp.Delivery, dead *[]*liveSub) (skipped bool) {
	m, err := fromDelivery(d, n.b.opts.HistoryEpoch)
	if n.history {
		off, skip := n.streamOffset(d, m)
		if skip {
			return true
		}
		if m != nil {
			// A Publish waiting for the cursor is answered after the
			// fan-out: once it returns, a subscription its caller starts
			// does not get the message (it is not "published afterwards").
			defer n.answer(m.ID, off)
		}
	}
	if err != nil {
		n.b.log.Warn("amqpx: dropped a message with an unusable routing key", "key", clip.String(d.RoutingKey), "err", err)
		return false
	}
	if !n.b.dedup.Deliver(m) {
		n.b.log.Debug("amqpx: dropped a copy of a message delivered before", "topic", m.Topic, "id", m.ID, "cursor", m.Cursor)
		return false
	}
	*dead = n.b.fan.Deliver(m.Topic, func(s *liveSub) bool { return s.OfferOnce(m) }, (*dead)[:0])
	for _, s := range *dead {
		n.b.detach(s)
	}
	clear(*dead)
	return false
}

// streamOffset handles the stream offset of a delivery in history mode: it
// sets m's cursor, advances the head, returns the offset (for answer), and
// reports deliveries to skip (already seen before a
// reconnect). A jump past the head means retention removed messages while
// the node was away: the node's live subscriptions end with ErrQueueLost.
// (A stream declared afresh restarts its offsets, which the node cannot
// tell from a replayed chunk; see Options.HistoryEpoch.)
func (n *node) streamOffset(d *amqp.Delivery, m *pubsub.Message) (off int64, skip bool) {
	off, ok := intValue(d.Headers["x-stream-offset"])
	if !ok || off < 0 {
		return 0, true
	}
	n.mu.Lock()
	head := n.head
	switch {
	case head >= 0 && off <= head:
		n.mu.Unlock()
		return 0, true // a chunk replayed from before the resume point
	case head >= 0 && off > head+1:
		n.head = off
		n.mu.Unlock()
		n.lostStream(off)
	default:
		n.head = off
		n.mu.Unlock()
	}
	if m != nil {
		m.Cursor = pubsub.Cursor{Epoch: n.b.opts.HistoryEpoch, Seq: uint64(off)}.String()
	}
	return off, false
}

// answer gives the Publish calls waiting for message id its offset.
func (n *node) answer(id string, off int64) {
	n.wmu.Lock()
	for _, w := range n.waiters[id] {
		w <- uint64(off) // buffered, and only sent to once
	}
	delete(n.waiters, id)
	n.wmu.Unlock()
}

func (n *node) lostStream(off int64) {
	n.b.log.Warn("amqpx: history stream skipped ahead while disconnected", "stream", n.queue, "offset", off)
	n.mu.Lock()
	n.head = off
	n.mu.Unlock()
	n.endLive()
}

// endLive ends the node's live subscriptions with ErrQueueLost.
func (n *node) endLive() {
	for _, s := range n.b.fan.All() {
		s.Stop(ErrQueueLost)
	}
}

// waitOffset registers interest in the stream offset of message id.
func (n *node) waitOffset(id string) (<-chan uint64, func()) {
	c := make(chan uint64, 1)
	n.wmu.Lock()
	n.waiters[id] = append(n.waiters[id], c)
	n.wmu.Unlock()
	return c, func() {
		n.wmu.Lock()
		defer n.wmu.Unlock()
		ws := slices.DeleteFunc(n.waiters[id], func(x chan uint64) bool { return x == c })
		if len(ws) == 0 {
			delete(n.waiters, id)
		} else {
			n.waiters[id] = ws
		}
	}
}

// declareStream declares the history stream and binds it to every topic
// (the exchange is declared already).
func declareStream(ch *amqp.Channel, o *Options) error {
	args := amqp.Table{
		"x-queue-type":       "stream",
		"x-max-age":          fmt.Sprintf("%ds", max(int64(o.HistoryMaxAge.Seconds()), 1)),
		"x-max-length-bytes": o.HistoryMaxBytes,
	}
	if _, err := ch.QueueDeclare(o.HistoryStream, true, false, false, false, args); err != nil {
		return fmt.Errorf("amqpx: failed to declare the history stream %q: %w", o.HistoryStream, err)
	}
	if err := ch.QueueBind(o.HistoryStream, "#", o.Exchange, false, nil); err != nil {
		return fmt.Errorf("amqpx: failed to bind the history stream: %w", err)
	}
	return nil
}

// headOffset returns the offset of the newest stream message the node has
// read (-1 before any).
func (n *node) headOffset() int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.head
}

// tag is the node's consumer tag.
func (n *node) tag() string { return "sb-node-" + n.b.id }
