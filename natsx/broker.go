package natsx

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-go/switchboard/internal/backoff"
	"github.com/switchboard-go/switchboard/internal/drain"
	"github.com/switchboard-go/switchboard/internal/fanout"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Broker is a pubsub.Broker over NATS JetStream. Create it with Dial. It is
// safe for concurrent use.
type Broker struct {
	opts Options
	log  *slog.Logger
	nc   *nats.Conn
	js   jetstream.JetStream
	node *node
	fan  *fanout.Table[*liveSub]
	ids  *pubsub.Dedup // IDs this node published; nil when off

	ctx    context.Context // cancelled at the end of Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	emu      sync.RWMutex
	epoch    string           // the stream's cursor epoch
	stream   jetstream.Stream // the history stream's handle
	retained jetstream.Stream // the retained store's handle

	lmu  sync.Mutex
	lost chan struct{} // closed when the connection drops, then replaced

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup // Publish calls, drained by Close
	qsubs    map[*queueSub]struct{}
	once     sync.Once
}

var (
	_ pubsub.Broker           = (*Broker)(nil)
	_ pubsub.MultiSubscriber  = (*Broker)(nil)
	_ pubsub.HistoryReader    = (*Broker)(nil)
	_ pubsub.ReadinessChecker = (*Broker)(nil)
)

// Dial connects to the NATS server at url ("" means nats://127.0.0.1:4222;
// several comma-separated URLs are a cluster), creates or updates the
// history stream, and returns a running Broker. opts may be nil. The first
// connection must succeed; after that the client reconnects by itself with
// backoff and resubscribes. ctx bounds the setup.
func Dial(ctx context.Context, url string, opts *Options) (*Broker, error) {
	url = cmp.Or(url, defaultURL)
	o := opts.withDefaults()
	b := &Broker{opts: o, log: o.Logger, fan: fanout.New[*liveSub](), qsubs: make(map[*queueSub]struct{}), lost: make(chan struct{}),
		ids: pubsub.NewDedup(o.DedupWindow, o.DedupSize, nil)}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.node = newNode(b)
	bo := backoff.Backoff{Min: o.MinBackoff, Max: o.MaxBackoff}
	nopts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return bo.Delay(attempts) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { b.node.disconnected(err) }),
		nats.ReconnectHandler(func(*nats.Conn) { b.log.Info("natsx: reconnected") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) { b.asyncError(sub, err) }),
		nats.Timeout(10 * time.Second),
	}
	if o.KeepAlive > 0 {
		nopts = append(nopts, nats.PingInterval(o.KeepAlive))
	} else {
		nopts = append(nopts, nats.PingInterval(24*time.Hour))
	}
	if dl, ok := ctx.Deadline(); ok {
		nopts = append(nopts, nats.Timeout(max(time.Until(dl), time.Millisecond)))
	}
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		b.cancel()
		return nil, fmt.Errorf("natsx: failed to connect: %w", err)
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		b.cancel()
		return nil, fmt.Errorf("natsx: %w", err)
	}
	if err := b.ensureStream(ctx); err != nil {
		nc.Close()
		b.cancel()
		return nil, err
	}
	if err := b.ensureRetain(ctx); err != nil {
		nc.Close()
		b.cancel()
		return nil, err
	}
	if err := b.node.start(); err != nil {
		nc.Close()
		b.cancel()
		return nil, err
	}
	return b, nil
}

// streamConfig is the history stream every node declares alike.
func (b *Broker) streamConfig() jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if b.opts.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name:      b.opts.Stream,
		Subjects:  []string{b.opts.SubjectPrefix + ".>"},
		Storage:   storage,
		MaxAge:    b.opts.HistoryMaxAge,
		MaxBytes:  b.opts.HistoryMaxBytes,
		Retention: jetstream.LimitsPolicy,
		Discard:   jetstream.DiscardOld,
		RePublish: &jetstream.RePublish{
			Source:      b.opts.SubjectPrefix + ".>",
			Destination: b.opts.livePrefix() + ".>",
		},
	}
}

// ensureStream creates (or updates) the history stream and learns its
// epoch.
func (b *Broker) ensureStream(ctx context.Context) error {
	s, err := b.js.CreateOrUpdateStream(ctx, b.streamConfig())
	if err != nil {
		return fmt.Errorf("natsx: failed to create the stream %q: %w", b.opts.Stream, err)
	}
	info := s.CachedInfo()
	b.emu.Lock()
	b.stream = s
	b.epoch = streamEpoch(info.Config.Name, info.Created)
	b.emu.Unlock()
	return nil
}

// streamEpoch derives the cursor epoch from the stream's name and creation
// time, so every node agrees and a stream created afresh has a new one.
func streamEpoch(name string, created time.Time) string {
	sum := sha256.Sum256([]byte(name + "\x00" + strconv.FormatInt(created.UnixNano(), 10)))
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	e := make([]byte, 12)
	for i := range e {
		e[i] = alphabet[sum[i]&31]
	}
	return string(e)
}

// Epoch returns the cursor epoch of the history stream.
func (b *Broker) Epoch() string {
	b.emu.RLock()
	defer b.emu.RUnlock()
	return b.epoch
}

func (b *Broker) historyStream() jetstream.Stream {
	b.emu.RLock()
	defer b.emu.RUnlock()
	return b.stream
}

func (b *Broker) cursor(seq uint64) string {
	return pubsub.Cursor{Epoch: b.Epoch(), Seq: seq}.String()
}

// Capabilities reports History, Groups, Acks and Retain.
func (b *Broker) Capabilities() pubsub.Capabilities {
	return pubsub.Capabilities{History: true, Groups: true, Acks: true, Retain: true}
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

// Publish publishes msg to JetStream on the topic's subject and returns
// once the server stored it (the PubAck), with the stream sequence as the
// cursor. Message.ID travels in Nats-Msg-Id (with the subject: an ID
// counts per topic), so a publish retried within the stream's duplicate
// window is stored once. With msg.Retain the
// message is also stored as the topic's retained message (empty Data
// clears it) before Publish returns. It fails with
// pubsub.ErrInvalidTopic, ctx's error, pubsub.ErrClosed or the server's
// error.
func (b *Broker) Publish(ctx context.Context, msg pubsub.Message) (pubsub.Receipt, error) {
	subject, err := TopicToSubject(b.opts.SubjectPrefix, msg.Topic)
	if err != nil {
		return pubsub.Receipt{}, err
	}
	if err := ctx.Err(); err != nil {
		return pubsub.Receipt{}, err
	}
	if err := b.begin(); err != nil {
		return pubsub.Receipt{}, err
	}
	defer b.inflight.Done()
	if msg.ID == "" {
		msg.ID = pubsub.NewID()
		return b.publishMsg(ctx, subject, &msg)
	}
	r, dup, end, err := b.ids.Begin(ctx, msg.Topic, msg.ID)
	if err != nil || dup {
		return r, err
	}
	r, err = b.publishMsg(ctx, subject, &msg)
	end(r, err)
	return r, err
}

// publishMsg publishes msg (with its ID) and, when msg.Retain, keeps it.
func (b *Broker) publishMsg(ctx context.Context, subject string, msg *pubsub.Message) (pubsub.Receipt, error) {
	now := time.Now()
	seq, err := b.publish(ctx, toNATS(subject, msg))
	if err != nil {
		return pubsub.Receipt{}, err
	}
	if msg.Retain {
		if err := b.retain(ctx, subject, msg); err != nil {
			return pubsub.Receipt{}, err
		}
	}
	// Time is this node's clock: the PubAck carries no timestamp, and the
	// stream stamps the message on arrival (what subscribers see), so the
	// two can differ by the round trip.
	return pubsub.Receipt{ID: msg.ID, Cursor: b.cursor(seq), Time: now}, nil
}

// publish sends nm to JetStream and waits for its PubAck, aborting when
// the Broker closes. When the connection drops before the PubAck, it
// publishes again once reconnected: the same Nats-Msg-Id makes the server
// answer with the first copy's sequence if that one was stored.
func (b *Broker) publish(ctx context.Context, nm *nats.Msg) (uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	if _, ok := ctx.Deadline(); !ok {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, 30*time.Second)
		defer c2()
	}
	for {
		ack, dropped, err := b.publishOnce(ctx, nm)
		if err == nil {
			return ack.Sequence, nil
		}
		if b.ctx.Err() != nil {
			return 0, pubsub.ErrClosed
		}
		if cerr := ctx.Err(); cerr != nil {
			return 0, cerr
		}
		if !dropped {
			return 0, fmt.Errorf("natsx: publish failed: %w", err)
		}
		b.log.Debug("natsx: publishing again after a reconnect", "subject", nm.Subject)
	}
}

// publishOnce makes one attempt; dropped reports that the connection
// dropped while it waited.
func (b *Broker) publishOnce(ctx context.Context, nm *nats.Msg) (*jetstream.PubAck, bool, error) {
	b.lmu.Lock()
	lost := b.lost
	b.lmu.Unlock()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lost:
			cancel()
		case <-actx.Done():
		}
	}()
	ack, err := b.js.PublishMsg(actx, nm, jetstream.WithRetryAttempts(20), jetstream.WithRetryWait(100*time.Millisecond))
	select {
	case <-lost:
		return ack, err != nil, err
	default:
		return ack, false, err
	}
}

// dropped signals the publishes waiting for a PubAck that the connection
// dropped.
func (b *Broker) dropped() {
	b.lmu.Lock()
	close(b.lost)
	b.lost = make(chan struct{})
	b.lmu.Unlock()
}

// deadLetter publishes m to its dead-letter topic.
func (b *Broker) deadLetter(ctx context.Context, opts *pubsub.SubscribeOptions, m *pubsub.Message, reason string) error {
	dl := pubsub.DeadLetter(opts, m, reason)
	dl.ID = pubsub.NewID() // the original's would be dropped as a duplicate
	subject, err := TopicToSubject(b.opts.SubjectPrefix, dl.Topic)
	if err != nil {
		return fmt.Errorf("natsx: cannot dead-letter to %q: %w", dl.Topic, err)
	}
	nm := toNATS(subject, &dl)
	if _, err := b.publish(ctx, nm); err != nil {
		return fmt.Errorf("natsx: failed to dead-letter: %w", err)
	}
	return nil
}

// Subscribe subscribes to filter (MQTT 5 syntax, see FilterToSubjects). It
// returns once the subscription is active. It is SubscribeMany with one
// filter.
func (b *Broker) Subscribe(ctx context.Context, filter string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	return b.SubscribeMany(ctx, []string{filter}, opts)
}

// SubscribeMany subscribes to several filters on one subscription; see
// pubsub.MultiSubscriber. A plain subscription holds one reference to the
// node's core NATS subscription of each subject its filters map to; a
// message matching several filters is delivered once, and messages arrive
// in stream order. With Since, the replay reads the stream once for all
// filters. A Group or ManualAck subscription takes exactly one filter
// (pubsub.ErrNotSupported otherwise) and cannot be combined with Since.
func (b *Broker) SubscribeMany(ctx context.Context, filters []string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	if len(filters) == 0 {
		return nil, fmt.Errorf("%w: no filter", pubsub.ErrInvalidFilter)
	}
	fs := make([]pubsub.Filter, len(filters))
	var subjects []string
	var wide []string // one stream filter per filter
	for i, filter := range filters {
		f, subs, err := FilterToSubjects(b.opts.SubjectPrefix, filter)
		if err != nil {
			return nil, err
		}
		fs[i] = f
		subjects = append(subjects, subs...)
		wide = append(wide, streamFilter(b.opts.SubjectPrefix, subs))
	}
	o := opts.WithDefaults()
	var since pubsub.Cursor
	if o.Since != "" {
		var err error
		if since, err = pubsub.ParseCursor(o.Since); err != nil {
			return nil, err
		}
	}
	if (o.Group != "" || o.ManualAck) && (len(fs) > 1 || o.Since != "") {
		return nil, fmt.Errorf("%w: a Group or ManualAck subscription takes one filter and no Since", pubsub.ErrNotSupported)
	}
	if o.DeadLetterTopic != "" {
		if _, err := TopicToSubject(b.opts.SubjectPrefix, o.DeadLetterTopic); err != nil {
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
		return b.subscribeQueue(ctx, fs[0], wide[0], o)
	}
	s := newLiveSub(b, fs, b.node.liveSubjects(subjects), o)
	if o.Since != "" {
		return b.subscribeSince(ctx, s, since, wide)
	}
	if !o.NoRetained {
		return b.subscribeRetained(ctx, s, wide)
	}
	if err := b.node.acquire(ctx, s.subjects); err != nil {
		return nil, err
	}
	if !b.fan.Add(s) {
		b.node.release(s.subjects)
		return nil, pubsub.ErrClosed
	}
	s.Watch(ctx)
	return s, nil
}

// subscribeRetained starts plain subscription s, which first receives
// the retained messages matching its filters, then continues live. The
// store is read first; when it holds matching messages, s joins live
// delivery holding live messages back, and they follow the retained ones.
func (b *Broker) subscribeRetained(ctx context.Context, s *liveSub, wide []string) (pubsub.Subscription, error) {
	retained, err := b.retainedFor(ctx, s, wide)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if len(retained) == 0 {
		if err := b.node.acquire(ctx, s.subjects); err != nil {
			return nil, err
		}
		if !b.fan.Add(s) {
			b.node.release(s.subjects)
			return nil, pubsub.ErrClosed
		}
		s.Watch(ctx)
		return s, nil
	}
	s.Hold()
	if err := b.node.acquire(ctx, s.subjects); err != nil {
		s.End(err)
		s.Replay(nil, nil, 0)
		return nil, err
	}
	if !b.fan.Add(s) {
		b.node.release(s.subjects)
		s.End(pubsub.ErrClosed)
		s.Replay(nil, nil, 0)
		return nil, pubsub.ErrClosed
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if s.Replay(slices.Values(retained), nil, replayStall) {
			b.detach(s)
		}
	}()
	s.Watch(ctx)
	return s, nil
}

// detach releases a plain subscription's place in the fan-out and its
// subject references.
func (b *Broker) detach(s *liveSub) {
	if b.fan.Remove(s) {
		b.node.release(s.subjects)
	}
}

func (b *Broker) forget(s *queueSub) {
	b.mu.Lock()
	delete(b.qsubs, s)
	b.mu.Unlock()
}

// asyncError handles the NATS client's asynchronous errors: a node
// subscription that dropped messages ends the node's live subscriptions.
func (b *Broker) asyncError(sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) && b.node.owns(sub) {
		b.log.Warn("natsx: node fell behind, ending its live subscriptions", "err", err)
		b.node.endLive(ErrSlowNode)
		return
	}
	b.log.Warn("natsx: asynchronous error", "err", err)
}

// Close waits up to Options.DrainTimeout for publishes in flight, ends
// every subscription with pubsub.ErrClosed (ManualAck deliveries not yet
// acknowledged are redelivered), closes the connection and waits for the
// Broker's goroutines. It is idempotent.
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
	for _, s := range b.fan.CloseAll() {
		s.Stop(pubsub.ErrClosed)
	}
	for _, s := range qsubs {
		s.end(pubsub.ErrClosed)
	}
	b.cancel()
	<-drained
	b.wg.Wait()
	b.node.stop()
	b.nc.Close()
}

// Ready returns nil while the connection to NATS is up; otherwise an error
// wrapping pubsub.ErrUnavailable with the connection's status and last
// error, or pubsub.ErrClosed after Close (pubsub.ReadinessChecker). It
// does not wait.
func (b *Broker) Ready(context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return pubsub.ErrClosed
	}
	if st := b.nc.Status(); st != nats.CONNECTED {
		if err := b.nc.LastError(); err != nil {
			return fmt.Errorf("%w: natsx: %v: %w", pubsub.ErrUnavailable, st, err)
		}
		return fmt.Errorf("%w: natsx: %v", pubsub.ErrUnavailable, st)
	}
	return nil
}
