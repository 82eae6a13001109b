package redisx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-go/switchboard/internal/drain"
	"github.com/switchboard-go/switchboard/internal/fanout"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Broker is a pubsub.Broker over Redis. Create it with Dial. It is safe for
// concurrent use.
type Broker struct {
	opts Options
	log  *slog.Logger
	id   string
	rdb  *redis.Client // commands and the node reader
	grp  *redis.Client // blocking group reads (one connection per waiting member)
	fan  *fanout.Table[*liveSub]
	ids  *pubsub.Dedup // IDs published and delivered; nil when off

	keyLog, keyEpoch, keyRetained, keyCount string

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // reader, replays
	gwg    sync.WaitGroup // group members

	mu       sync.Mutex
	epoch    string
	closed   bool
	inflight sync.WaitGroup // Publish and Subscribe calls, drained by Close
	gsubs    map[*groupSub]struct{}
	once     sync.Once
}

var (
	_ pubsub.Broker          = (*Broker)(nil)
	_ pubsub.MultiSubscriber = (*Broker)(nil)
	_ pubsub.HistoryReader   = (*Broker)(nil)
)

// Dial connects to the Redis server at url (redis://, rediss:// or
// unix://, in go-redis's ParseURL syntax, with the user, password and
// database in it; "" means redis://127.0.0.1:6379/0), creates the
// namespace's epoch if it does not exist yet, and starts the node reader.
// opts may be nil. The first connection must succeed (a wrong URL or a
// refused connection fails fast); after that go-redis reconnects by
// itself and the reader resumes from the last entry it read. ctx bounds
// the first connection.
func Dial(ctx context.Context, url string, opts *Options) (*Broker, error) {
	o := opts.withDefaults()
	ro, err := redis.ParseURL(cmp.Or(url, defaultURL))
	if err != nil {
		return nil, fmt.Errorf("redisx: bad url: %w", err)
	}
	ro.MinRetryBackoff, ro.MaxRetryBackoff = o.MinBackoff, o.MaxBackoff
	ro.ContextTimeoutEnabled = true
	ro.DisableIdentity = true
	gro := *ro
	gro.PoolSize = maxGroupReaders
	gro.MaxRetries = -1 // a blocking read is issued again by its loop
	b := &Broker{opts: o, log: o.Logger, id: pubsub.NewID(), fan: fanout.New[*liveSub](),
		ids: pubsub.NewDedup(o.DedupWindow, o.DedupSize, nil),
		rdb: redis.NewClient(ro), grp: redis.NewClient(&gro), gsubs: make(map[*groupSub]struct{}),
		keyLog: o.Prefix + ":log", keyEpoch: o.Prefix + ":epoch", keyRetained: o.Prefix + ":retained", keyCount: o.Prefix + ":count"}
	epoch, err := b.loadEpoch(ctx)
	if err != nil {
		b.closeClients()
		return nil, fmt.Errorf("redisx: failed to connect: %w", err)
	}
	newest, err := b.rdb.XRevRangeN(ctx, b.keyLog, "+", "-", 1).Result()
	if err != nil {
		b.closeClients()
		return nil, fmt.Errorf("redisx: failed to read the stream: %w", err)
	}
	last, n := "0-0", uint64(0)
	if len(newest) > 0 {
		last, n = newest[0].ID, entryCount(newest[0].Values)
	}
	b.epoch = epoch
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.wg.Add(1)
	go b.read(last, n)
	return b, nil
}

// maxGroupReaders bounds the connections of blocking group reads: one per
// group or ManualAck subscription waiting for messages.
const maxGroupReaders = 1024

func (b *Broker) closeClients() {
	_ = b.rdb.Close()
	_ = b.grp.Close()
}

// loadEpoch returns the namespace's epoch, creating it if it is missing.
func (b *Broker) loadEpoch(ctx context.Context) (string, error) {
	fresh := pubsub.NewEpoch()
	if _, err := b.rdb.SetNX(ctx, b.keyEpoch, fresh, 0).Result(); err != nil {
		return "", err
	}
	return b.rdb.Get(ctx, b.keyEpoch).Result()
}

// newest returns the id of the newest entry in the stream, "0-0" when it
// is empty or missing.
func (b *Broker) newest(ctx context.Context) (string, error) {
	ms, err := b.rdb.XRevRangeN(ctx, b.keyLog, "+", "-", 1).Result()
	if err != nil {
		return "", err
	}
	if len(ms) == 0 {
		return "0-0", nil
	}
	return ms[0].ID, nil
}

// Epoch returns the cursor epoch: stored in Redis under "<prefix>:epoch",
// the same on every node.
func (b *Broker) Epoch() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.epoch
}

// Stream returns the Redis key of the history stream.
func (b *Broker) Stream() string { return b.keyLog }

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

// closedErr maps an error after Close to pubsub.ErrClosed.
func (b *Broker) closedErr(err error) error {
	if err != nil && (b.ctx.Err() != nil || errors.Is(err, redis.ErrClosed)) {
		return pubsub.ErrClosed
	}
	return err
}

// publishScript adds an entry to the stream (trimming it to about MAXLEN)
// and, for a retained message, sets or clears the topic's retained value,
// atomically; it creates the epoch if Redis lost it and returns
// {epoch, entry id}.
//
// Every entry carries the epoch ("e") and a count ("n", from INCR on
// "<prefix>:count"), so a reader knows an entry's epoch and sees a jump
// when entries it had not read were trimmed.
//
// KEYS: log, epoch, retained, count. ARGV: fresh epoch, maxlen ("0": no trim),
// retain ("", "set" or "del"), topic, packed retained value, then the
// entry's field/value pairs.
var publishScript = redis.NewScript(`
local e = redis.call('GET', KEYS[2])
if not e then
  e = ARGV[1]
  redis.call('SET', KEYS[2], e)
end
local args = {'XADD', KEYS[1]}
if ARGV[2] ~= '0' then
  table.insert(args, 'MAXLEN'); table.insert(args, '~'); table.insert(args, ARGV[2])
end
table.insert(args, '*')
table.insert(args, 'e'); table.insert(args, e)
table.insert(args, 'n'); table.insert(args, redis.call('INCR', KEYS[4]))
for i = 6, #ARGV do table.insert(args, ARGV[i]) end
local id = redis.call(unpack(args))
if ARGV[3] == 'set' then
  redis.call('HSET', KEYS[3], ARGV[4], id .. ' ' .. ARGV[5])
elseif ARGV[3] == 'del' then
  redis.call('HDEL', KEYS[3], ARGV[4])
end
return {e, id}
`)

// Publish adds msg to the stream (XADD with MAXLEN ~ Options.MaxLen) and
// returns once Redis has executed it, with the entry's cursor. A retained
// message (msg.Retain) also sets, or with empty Data clears, the topic's
// retained value, in the same script. If the connection drops before the
// reply, go-redis retries: delivery is at least once and a message keeps
// its ID. It fails with pubsub.ErrInvalidTopic, ErrTooLarge, ctx's error
// or pubsub.ErrClosed.
func (b *Broker) Publish(ctx context.Context, msg pubsub.Message) (pubsub.Receipt, error) {
	if err := pubsub.ValidateTopic(msg.Topic); err != nil {
		return pubsub.Receipt{}, err
	}
	size := len(msg.Data)
	for k, v := range msg.Header {
		size += len(k) + len(v)
	}
	if b.opts.MaxMessageBytes > 0 && size > b.opts.MaxMessageBytes {
		return pubsub.Receipt{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, size, b.opts.MaxMessageBytes)
	}
	if err := ctx.Err(); err != nil {
		return pubsub.Receipt{}, err
	}
	keyed := msg.ID != ""
	if !keyed {
		msg.ID = pubsub.NewID()
	}
	if err := b.begin(); err != nil {
		return pubsub.Receipt{}, err
	}
	defer b.inflight.Done()
	if !keyed {
		return b.add(ctx, &msg)
	}
	r, dup, end, err := b.ids.Begin(ctx, msg.Topic, msg.ID)
	if err != nil || dup {
		return r, err
	}
	r, err = b.add(ctx, &msg)
	end(r, err)
	return r, err
}

// add runs the publish script for msg.
func (b *Broker) add(ctx context.Context, msg *pubsub.Message) (pubsub.Receipt, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	retain, packed := "", ""
	if msg.Retain {
		retain = "set"
		if len(msg.Data) == 0 {
			retain = "del"
		} else {
			packed = encodeRetained(msg)
		}
	}
	args := append([]any{pubsub.NewEpoch(), max(b.opts.MaxLen, 0), retain, msg.Topic, packed}, entryArgs(msg)...)
	res, err := publishScript.Run(ctx, b.rdb, []string{b.keyLog, b.keyEpoch, b.keyRetained, b.keyCount}, args...).StringSlice()
	if err != nil {
		return pubsub.Receipt{}, b.closedErr(err)
	}
	if len(res) != 2 {
		return pubsub.Receipt{}, fmt.Errorf("redisx: unexpected publish reply %q", res)
	}
	seq, err := IDToSeq(res[1])
	if err != nil {
		return pubsub.Receipt{}, fmt.Errorf("redisx: published, but: %w", err)
	}
	return pubsub.Receipt{ID: msg.ID, Cursor: pubsub.Cursor{Epoch: res[0], Seq: seq}.String(), Time: seqTime(seq)}, nil
}

// deadLetter publishes m to its dead-letter topic.
func (b *Broker) deadLetter(ctx context.Context, opts *pubsub.SubscribeOptions, m *pubsub.Message, reason string) error {
	dl := pubsub.DeadLetter(opts, m, reason)
	b.log.Debug("redisx: dead-lettering", "topic", m.Topic, "id", m.ID, "reason", reason)
	if _, err := b.add(ctx, &dl); err != nil {
		return fmt.Errorf("redisx: failed to dead-letter: %w", err)
	}
	return nil
}

// Subscribe subscribes to filter (MQTT 5 syntax, matched on this node: see
// the package doc). It is SubscribeMany with one filter.
func (b *Broker) Subscribe(ctx context.Context, filter string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	return b.SubscribeMany(ctx, []string{filter}, opts)
}

// SubscribeMany subscribes to several filters on one subscription; see
// pubsub.MultiSubscriber. A message matching more than one filter is
// delivered once, in stream (cursor) order. A plain subscription is served
// by the node reader and costs Redis nothing. With Since it replays the
// stream after the cursor (XRANGE), then continues live with no gap and no
// duplicate. Without Since (and without NoRetained) it first receives the
// retained messages matching its filters. A subscription with Group or
// ManualAck reads a consumer group instead (see the package doc); a group
// takes exactly one filter, and Since cannot be combined with Group or
// ManualAck (pubsub.ErrNotSupported).
func (b *Broker) SubscribeMany(ctx context.Context, filters []string, opts *pubsub.SubscribeOptions) (pubsub.Subscription, error) {
	if len(filters) == 0 {
		return nil, fmt.Errorf("%w: no filter", pubsub.ErrInvalidFilter)
	}
	fs := make([]pubsub.Filter, len(filters))
	for i, filter := range filters {
		f, err := pubsub.ParseFilter(filter)
		if err != nil {
			return nil, err
		}
		fs[i] = f
	}
	o := opts.WithDefaults()
	var since pubsub.Cursor
	if o.Since != "" {
		var err error
		if since, err = pubsub.ParseCursor(o.Since); err != nil {
			return nil, err
		}
		if o.Group != "" || o.ManualAck {
			return nil, fmt.Errorf("%w: Since cannot be combined with Group or ManualAck", pubsub.ErrNotSupported)
		}
	}
	if o.Group != "" && len(fs) > 1 {
		return nil, fmt.Errorf("%w: a group takes one filter", pubsub.ErrNotSupported)
	}
	if o.DeadLetterTopic != "" {
		if err := pubsub.ValidateTopic(o.DeadLetterTopic); err != nil {
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
		return b.subscribeGroup(ctx, fs, o)
	}
	s := newLiveSub(b, fs, o)
	if o.Since != "" {
		return b.subscribeSince(ctx, s, since)
	}
	return b.subscribeLive(ctx, s, !o.NoRetained)
}

// Close waits up to Options.DrainTimeout for publishes in flight, ends
// every subscription with pubsub.ErrClosed (unacknowledged group
// deliveries stay pending in their group, for another member to claim),
// closes the connections and waits for the Broker's goroutines. It is
// idempotent.
func (b *Broker) Close() error {
	b.once.Do(b.close)
	return nil
}

func (b *Broker) close() {
	b.mu.Lock()
	b.closed = true
	gsubs := make([]*groupSub, 0, len(b.gsubs))
	for s := range b.gsubs {
		gsubs = append(gsubs, s)
	}
	b.mu.Unlock()

	drained := drain.Wait(&b.inflight, b.opts.DrainTimeout)
	for _, s := range b.fan.CloseAll() {
		s.Stop(pubsub.ErrClosed)
	}
	for _, s := range gsubs {
		s.end(pubsub.ErrClosed)
	}
	b.cancel()
	_ = b.grp.Close() // ends blocking group reads
	b.gwg.Wait()      // group members tidy up with rdb
	_ = b.rdb.Close() // ends the node reader's blocking read
	<-drained
	b.wg.Wait()
}
