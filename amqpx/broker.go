package amqpx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/switchboard-go/switchboard/internal/drain"
	"github.com/switchboard-go/switchboard/internal/fanout"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Broker is a pubsub.Broker over RabbitMQ. Create it with Dial. It is safe
// for concurrent use.
type Broker struct {
	opts    Options
	log     *slog.Logger
	id      string
	pubConn *connector
	subConn *connector
	pub     *publisher
	node    *node
	fan     *fanout.Table[*liveSub]
	dedup   *pubsub.Dedup // IDs published and delivered; nil when off

	ctx    context.Context // cancelled at the end of Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // connectors, node consumer, queue consumers

	nodeCancel context.CancelFunc // stops the node consumer before Close deletes its queue
	readers    chan struct{}      // semaphore of concurrent history stream readers

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup // Publish calls, drained by Close
	qsubs    map[*queueSub]struct{}
	once     sync.Once
}

var (
	_ pubsub.Broker           = (*Broker)(nil)
	_ pubsub.MultiSubscriber  = (*Broker)(nil)
	_ pubsub.ReadinessChecker = (*Broker)(nil)
)

// maxStreamReaders bounds the history stream consumers (resumes and
// History reads) a Broker runs at once; more wait their turn.
const maxStreamReaders = 32

// Dial connects to the RabbitMQ server at url (amqp:// or amqps://, with
// the user, password and virtual host in it; "" means
// amqp://guest:guest@127.0.0.1:5672/), declares the exchange and this
// node's queue, and returns a running Broker. opts may be nil. The first
// connection must succeed (a wrong URL or refused connection fails fast);
// after that the Broker reconnects by itself with backoff, re-declares its
// topology and resumes its consumers. ctx bounds the wait for the node
// queue.
func Dial(ctx context.Context, url string, opts *Options) (*Broker, error) {
	url = cmp.Or(url, defaultURL)
	o := opts.withDefaults()
	b := &Broker{opts: o, log: o.Logger, id: pubsub.NewID(), fan: fanout.New[*liveSub](), qsubs: make(map[*queueSub]struct{}),
		readers: make(chan struct{}, maxStreamReaders), dedup: pubsub.NewDedup(o.DedupWindow, o.DedupSize, nil)}
	b.pubConn = newConnector(url, &b.opts, "publish")
	b.subConn = newConnector(url, &b.opts, "consume")
	b.pub = newPublisher(b.pubConn, &b.opts)
	b.node = newNode(b, o.QueuePrefix+".node."+b.id)

	pc, err := b.pubConn.dial()
	if err != nil {
		return nil, fmt.Errorf("amqpx: failed to connect: %w", err)
	}
	sc, err := b.subConn.dial()
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("amqpx: failed to connect: %w", err)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	var nodeCtx context.Context
	nodeCtx, b.nodeCancel = context.WithCancel(b.ctx)
	b.wg.Add(3)
	go func() { defer b.wg.Done(); b.pubConn.run(b.ctx, pc) }()
	go func() { defer b.wg.Done(); b.subConn.run(b.ctx, sc) }()
	go func() { defer b.wg.Done(); b.node.run(nodeCtx) }()

	select {
	case err := <-b.node.first:
		if err != nil {
			_ = b.Close()
			return nil, err
		}
	case <-ctx.Done():
		_ = b.Close()
		return nil, ctx.Err()
	}
	if o.History {
		// Learn the stream's head, so a reconnect resumes from it even
		// when nothing else was published since the node started.
		if _, err := b.mark(ctx); err != nil {
			_ = b.Close()
			return nil, err
		}
	}
	return b, nil
}

// NodeQueue returns the name of this node's consumer queue (with
// Options.History, the shared stream it consumes).
func (b *Broker) NodeQueue() string { return b.node.queue }

// Capabilities reports Groups and Acks, and History when Options.History
// is on. Retain is not supported.
func (b *Broker) Capabilities() pubsub.Capabilities {
	return pubsub.Capabilities{Groups: true, Acks: true, History: b.opts.History}
}

// Ready returns nil while both of the Broker's connections (publishing
// and consuming) are up; otherwise an error wrapping pubsub.ErrUnavailable
// naming the connection that is down and its last error, or
// pubsub.ErrClosed after Close (pubsub.ReadinessChecker). It does not
// wait.
func (b *Broker) Ready(context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return pubsub.ErrClosed
	}
	if err := b.pubConn.ready(); err != nil {
		return err
	}
	return b.subConn.ready()
}

// begin registers a call that Close drains.
func (b *Broker) begin() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return pubsub.ErrClosed
	}
	b.inflight.Add(1)
	return nil
}

// Publish sends msg to the exchange with the topic as routing key
// (persistent delivery mode) and returns once RabbitMQ confirmed it. If the
// connection drops before the confirm, it publishes again after the
// reconnect, so RabbitMQ may route a message twice, with the same ID; the
// receiving nodes drop the copy (Options.DedupWindow). A publisher-supplied
// msg.ID is an idempotency key: repeated within DedupWindow, Publish
// returns the original Receipt and sends nothing. msg.Retain is
// ignored (Capabilities.Retain is false). It fails with
// pubsub.ErrInvalidTopic (including topics with '.' or '*' in a level),
// ErrInvalidHeader, ErrTooLarge, ErrNacked, ctx's error or pubsub.ErrClosed.
func (b *Broker) Publish(ctx context.Context, msg pubsub.Message) (pubsub.Receipt, error) {
	key, err := TopicToKey(msg.Topic)
	if err != nil {
		return pubsub.Receipt{}, err
	}
	size := len(msg.Data)
	for k, v := range msg.Header {
		size += len(k) + len(v)
	}
	if b.opts.MaxMessageBytes > 0 && size > b.opts.MaxMessageBytes {
		return pubsub.Receipt{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, b.opts.MaxMessageBytes)
	}
	keyed := msg.ID != ""
	if !keyed {
		msg.ID = pubsub.NewID()
	}
	// The AMQP timestamp has whole seconds: the Receipt's Time is the one
	// subscribers (and a node answering a repeated ID) see.
	now := time.Now().Truncate(time.Second)
	p, err := toPublishing(&msg, now)
	if err != nil {
		return pubsub.Receipt{}, err
	}
	if err := b.begin(); err != nil {
		return pubsub.Receipt{}, err
	}
	defer b.inflight.Done()
	if keyed {
		r, dup, end, err := b.dedup.Begin(ctx, msg.Topic, msg.ID)
		if err != nil || dup {
			return r, err
		}
		r, err = b.publishMessage(ctx, key, &msg, p, now)
		end(r, err)
		return r, err
	}
	return b.publishMessage(ctx, key, &msg, p, now)
}

// publishMessage publishes p (msg as AMQP) and waits for the confirm and,
// with History, for the node to read its cursor back.
func (b *Broker) publishMessage(ctx context.Context, key string, msg *pubsub.Message, p amqp.Publishing, now time.Time) (pubsub.Receipt, error) {
	var seen <-chan uint64
	if b.opts.History {
		var forget func()
		seen, forget = b.node.waitOffset(msg.ID)
		defer forget()
	}
	if err := b.publish(ctx, key, p); err != nil {
		return pubsub.Receipt{}, err
	}
	r := pubsub.Receipt{ID: msg.ID, Time: now}
	if seen != nil {
		off, err := b.awaitOffset(ctx, seen)
		if err != nil {
			return pubsub.Receipt{}, fmt.Errorf("amqpx: published, but its cursor is unknown: %w", err)
		}
		r.Cursor = b.cursor(off)
	}
	return r, nil
}

// publish sends p to the exchange, aborting when the Broker closes.
func (b *Broker) publish(ctx context.Context, key string, p amqp.Publishing) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	err := b.pub.publish(ctx, b.opts.Exchange, key, p)
	if err != nil && b.ctx.Err() != nil {
		return pubsub.ErrClosed
	}
	return err
}

// deadLetter publishes m to its dead-letter topic.
func (b *Broker) deadLetter(ctx context.Context, opts *pubsub.SubscribeOptions, m *pubsub.Message, reason string) error {
	dl := pubsub.DeadLetter(opts, m, reason)
	key, err := TopicToKey(dl.Topic)
	if err != nil {
		return fmt.Errorf("amqpx: cannot dead-letter to %q: %w", dl.Topic, err)
	}
	p, err := toPublishing(&dl, time.Now())
	if err != nil {
		return err
	}
	b.log.Debug("amqpx: dead-lettering", "topic", m.Topic, "id", m.ID, "reason", reason)
	if err := b.publish(ctx, key, p); err != nil {
		return fmt.Errorf("amqpx: failed to dead-letter: %w", err)
	}
	return nil
}

// Subscribe subscribes to filter (MQTT 5 syntax, translated to an AMQP
// binding key; a level containing '.' or '*' is refused with
// pubsub.ErrInvalidFilter). It returns once the binding is in place, so a
// message published afterwards is delivered. It is SubscribeMany with one
// filter.
//
// A plain subscription shares the node queue with every other plain
// subscription of this Broker. A subscription with Group consumes the
// group's durable queue (shared by every node; prefetch from Prefetch). A
// ManualAck subscription without a group consumes a private queue.
// Since needs Options.History (otherwise pubsub.ErrNotSupported) and
// cannot be combined with Group or ManualAck.
func (b *Broker) Subscribe(ctx context.Context, filter string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	return b.SubscribeMany(ctx, []string{filter}, opts)
}

// SubscribeMany subscribes to several filters on one subscription; see
// pubsub.MultiSubscriber. A message matching more than one filter is
// delivered once, and messages arrive in the order of the node queue (with
// Options.History, in cursor order) whatever filter they match; with
// Since, the replay covers the union of the filters in stream order, then
// continues live with no gap and no duplicate. A plain subscription holds
// one reference to the node queue's binding of each filter. A ManualAck
// subscription binds its private queue to every filter (RabbitMQ routes a
// message to a queue once). A group takes exactly one filter
// (pubsub.ErrNotSupported otherwise): its queue is named after it.
func (b *Broker) SubscribeMany(ctx context.Context, filters []string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	if len(filters) == 0 {
		return nil, fmt.Errorf("%w: no filter", pubsub.ErrInvalidFilter)
	}
	fs := make([]pubsub.Filter, len(filters))
	keys := make([]string, len(filters))
	for i, filter := range filters {
		f, key, err := FilterToKey(filter)
		if err != nil {
			return nil, err
		}
		fs[i], keys[i] = f, key
	}
	o := opts.WithDefaults()
	if o.Group != "" && len(fs) > 1 {
		return nil, fmt.Errorf("%w: a group takes one filter", pubsub.ErrNotSupported)
	}
	var since pubsub.Cursor
	if o.Since != "" {
		var err error
		if since, err = pubsub.ParseCursor(o.Since); err != nil {
			return nil, err
		}
		if !b.opts.History {
			return nil, fmt.Errorf("%w: history is off (Options.History), cannot resume from a cursor", pubsub.ErrNotSupported)
		}
		if o.Group != "" || o.ManualAck {
			return nil, fmt.Errorf("%w: Since cannot be combined with Group or ManualAck", pubsub.ErrNotSupported)
		}
	}
	if o.DeadLetterTopic != "" {
		if _, err := TopicToKey(o.DeadLetterTopic); err != nil {
			return nil, fmt.Errorf("bad DeadLetterTopic: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := b.begin(); err != nil {
		return nil, err
	}
	defer b.inflight.Done()
	if o.Group != "" || o.ManualAck {
		return b.subscribeQueue(ctx, fs, keys, o)
	}
	s := newLiveSub(b, fs, keys, o)
	for i, key := range keys {
		if err := b.node.acquire(ctx, key); err != nil {
			for _, k := range keys[:i] {
				b.node.release(k)
			}
			return nil, err
		}
	}
	if o.Since != "" {
		return b.subscribeSince(ctx, s, since)
	}
	if !b.fan.Add(s) {
		b.releaseAll(s)
		return nil, pubsub.ErrClosed
	}
	s.Watch(ctx)
	return s, nil
}

func (b *Broker) subscribeQueue(ctx context.Context, fs []pubsub.Filter, keys []string, o pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	s := &queueSub{b: b, filters: fs, keys: keys, opts: o, ch: make(chan *pubsub.Message, o.Buffer),
		started: make(chan error, 1), done: make(chan struct{}), inflight: make(map[*pubsub.Message]inflight)}
	if o.MaxDeliveries > 0 {
		s.maxDeliv = o.MaxDeliveries
	}
	if q, ok := b.opts.GroupQueues[o.Group]; ok && o.Group != "" {
		s.queue, s.app = q, true
	} else if o.Group != "" {
		s.queue = groupQueue(b.opts.QueuePrefix, o.Group, fs[0].String())
	} else {
		s.queue = b.opts.QueuePrefix + ".sub." + b.id + pubsub.NewID()
		s.private = true
	}
	s.ctx, s.cancel = context.WithCancel(b.ctx)
	b.mu.Lock()
	b.qsubs[s] = struct{}{}
	b.mu.Unlock()
	b.wg.Add(1)
	go s.run()
	select {
	case err := <-s.started:
		if err != nil {
			s.cancel()
			<-s.done
			b.forget(s)
			if errors.Is(err, context.Canceled) && b.ctx.Err() != nil {
				err = pubsub.ErrClosed
			}
			return nil, err
		}
	case <-ctx.Done():
		s.cancel()
		<-s.done
		b.forget(s)
		return nil, ctx.Err()
	}
	stop := context.AfterFunc(ctx, func() { s.stop(ctx.Err()) })
	s.mu.Lock()
	if s.finished {
		stop()
	} else {
		s.ctxStop = stop
	}
	s.mu.Unlock()
	return s, nil
}

func (b *Broker) forget(s *queueSub) {
	b.mu.Lock()
	delete(b.qsubs, s)
	b.mu.Unlock()
}

// detach releases a plain subscription's place in the fan-out and its
// binding references.
func (b *Broker) detach(s *liveSub) {
	if b.fan.Remove(s) {
		b.releaseAll(s)
	}
}

// releaseAll releases s's binding references, one per filter.
func (b *Broker) releaseAll(s *liveSub) {
	for _, key := range s.keys {
		b.node.release(key)
	}
}

// deleteQueue deletes a private queue, best effort.
func (b *Broker) deleteQueue(name string) {
	b.subConn.mu.Lock()
	conn := b.subConn.conn
	b.subConn.mu.Unlock()
	if conn == nil || conn.IsClosed() {
		return // it expires by itself
	}
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	_, _ = ch.QueueDelete(name, false, false, false)
	_ = ch.Close()
}

// Close waits up to Options.DrainTimeout for publishes in flight, ends
// every subscription with pubsub.ErrClosed (ManualAck deliveries not yet
// acknowledged go back to their queue), deletes the node queue, closes the
// connections and waits for the Broker's goroutines. It is idempotent.
func (b *Broker) Close() error {
	b.once.Do(b.close)
	return nil
}

func (b *Broker) close() {
	b.mu.Lock()
	b.closed = true
	qsubs := make([]*queueSub, 0, len(b.qsubs))
	for s := range b.qsubs {
		qsubs = append(qsubs, s)
	}
	b.mu.Unlock()

	drained := drain.Wait(&b.inflight, b.opts.DrainTimeout)

	b.node.mu.Lock()
	b.node.closing = true
	b.node.mu.Unlock()
	for _, s := range b.fan.CloseAll() {
		s.Stop(pubsub.ErrClosed)
	}
	for _, s := range qsubs {
		s.stop(pubsub.ErrClosed)
		<-s.done
	}
	b.nodeCancel()
	<-b.node.done
	if !b.node.history { // the stream is shared by every node: it stays
		b.deleteQueue(b.node.queue)
	}
	b.pub.close()
	b.cancel()
	<-drained
	b.wg.Wait()
}
