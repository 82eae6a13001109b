package pubsub

import (
	"container/list"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// Memory is the in-process Broker: a topic trie, a bounded history log,
// retained messages, groups and acknowledgements. Create it with NewMemory.
// It is safe for concurrent use.
type Memory struct {
	memory
}

var (
	_ Broker          = (*Memory)(nil)
	_ HistoryReader   = (*Memory)(nil)
	_ MultiSubscriber = (*Memory)(nil)
)

// NewMemory returns a running in-memory broker; opts may be nil (all
// defaults) and is not changed.
func NewMemory(o *MemoryOptions) *Memory {
	opts := o.withDefaults()
	m := &Memory{memory{
		opts:     opts,
		epoch:    opts.Epoch,
		retained: make(map[string]retainedEntry),
		groups:   make(map[string]*group),
		idle:     list.New(),
		subs:     make(map[*memSub]struct{}),
		dedup:    NewDedup(opts.DedupWindow, opts.DedupSize, opts.Now),
	}}
	if opts.HistorySize > 0 {
		m.ring = make([]*Message, opts.HistorySize)
		m.sizes = make([]int64, opts.HistorySize)
	}
	return m
}

// memory is the implementation behind Memory; see memory_*.go.
type memory struct {
	opts  MemoryOptions
	epoch string

	mu            sync.Mutex
	closed        bool
	seq           uint64     // sequence of the newest message
	ring          []*Message // history; nil when disabled
	sizes         []int64    // messageSize of each ring entry
	head, n       int        // oldest entry and count in ring
	histBytes     int64      // sum of sizes in the ring
	root          node
	retained      map[string]retainedEntry
	retainedBytes int64 // sum of the retained entries' sizes
	groups        map[string]*group
	idle          *list.List // groups without a member, oldest first
	subs          map[*memSub]struct{}
	scratch       []*node
	dedup         *Dedup // publisher-supplied IDs; nil when off
	dead          []*memSub

	wg sync.WaitGroup // replay goroutines
}

// Epoch returns the broker's cursor epoch.
func (b *Memory) Epoch() string { return b.epoch }

// Capabilities reports History (unless disabled), Groups, Acks and Retain.
func (b *Memory) Capabilities() Capabilities {
	return Capabilities{History: b.ring != nil, Groups: true, Acks: true, Retain: true}
}

// Publish stores msg in history (and as the retained message when
// msg.Retain) and delivers it to every matching subscription without
// waiting for any of them. A retained publish beyond MaxRetained or
// MaxRetainedBytes fails with ErrLimit and is neither stored nor
// delivered. A msg.ID accepted within MemoryOptions.DedupWindow returns
// the original Receipt and changes nothing.
func (b *Memory) Publish(ctx context.Context, msg Message) (Receipt, error) {
	if err := ValidateTopic(msg.Topic); err != nil {
		return Receipt{}, err
	}
	if err := ctx.Err(); err != nil {
		return Receipt{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return Receipt{}, ErrClosed
	}
	if r, ok := b.dedup.Lookup(msg.Topic, msg.ID); ok {
		return r, nil
	}
	if err := b.admitRetainedLocked(&msg); err != nil {
		return Receipt{}, err
	}
	now := b.opts.Now()
	b.collectGroupsLocked(now)
	keyed := msg.ID != ""
	m := b.publishLocked(msg, now)
	r := Receipt{ID: m.ID, Cursor: m.Cursor, Time: m.Time}
	if keyed {
		b.dedup.Record(m.Topic, r)
	}
	return r, nil
}

// publishLocked stores and delivers msg, accepted at now; b.mu held. A
// retained msg must have passed admitRetainedLocked.
func (b *memory) publishLocked(msg Message, now time.Time) *Message {
	size := messageSize(&msg) // before the broker assigns an ID
	b.seq++
	m := &Message{Topic: msg.Topic, Data: msg.Data, Header: msg.Header, ID: msg.ID,
		Time: now, Attempt: 1}
	c := Cursor{Epoch: b.epoch, Seq: b.seq}.String()
	if m.ID == "" {
		m.ID = c
	}
	if b.ring != nil {
		m.Cursor = c
		b.appendHistoryLocked(m, size)
	}
	if msg.Retain {
		b.retainLocked(m, size)
	}
	b.fanoutLocked(m)
	return m
}

func (b *memory) fanoutLocked(m *Message) {
	nodes := b.root.match(m.Topic, b.scratch[:0])
	b.scratch = nil // a nested publish (dead-lettering) must not reuse nodes
	for _, n := range nodes {
		for _, s := range n.subs {
			if s.lastOffered == m {
				continue // matched an earlier filter of the same subscription
			}
			s.lastOffered = m
			if s.opts.ManualAck {
				s.pushLocked(m)
			} else if s.Offer(m) {
				b.dead = append(b.dead, s)
			}
		}
		for _, g := range n.groups {
			g.push(m)
		}
	}
	clear(nodes)
	b.scratch = nodes[:0]
	b.reapLocked()
}

// reapLocked detaches subscriptions that ended while b.mu was held.
func (b *memory) reapLocked() {
	for len(b.dead) > 0 {
		s := b.dead[len(b.dead)-1]
		b.dead = b.dead[:len(b.dead)-1]
		b.removeLocked(s)
	}
}

// evictLocked drops history older than HistoryAge before now.
func (b *memory) evictLocked(now time.Time) {
	if b.opts.HistoryAge < 0 || b.n == 0 {
		return
	}
	limit := now.Add(-b.opts.HistoryAge)
	for b.n > 0 && b.ring[b.head].Time.Before(limit) {
		b.dropOldestLocked()
	}
}

// at returns the history entry with sequence seq, which must be kept.
func (b *memory) at(seq uint64) *Message {
	first := b.seq - uint64(b.n) + 1
	return b.ring[(b.head+int(seq-first))%len(b.ring)]
}

// resumeLocked locates the first sequence after cursor c. ok is false when
// c is from another epoch, from the future, or older than the history.
func (b *memory) resumeLocked(c Cursor) (start uint64, ok bool) {
	b.evictLocked(b.opts.Now())
	first := b.seq - uint64(b.n) + 1
	if c.Epoch != b.epoch || c.Seq > b.seq || c.Seq+1 < first {
		return first, false
	}
	return c.Seq + 1, true
}

// History reads the history matching filter after opts.Since.
func (b *Memory) History(ctx context.Context, filter string, opts HistoryOptions) (HistoryPage, error) {
	f, err := ParseFilter(filter)
	if err != nil {
		return HistoryPage{}, err
	}
	if b.ring == nil {
		return HistoryPage{}, fmt.Errorf("%w: history is disabled", ErrNotSupported)
	}
	var since Cursor
	if opts.Since != "" {
		if since, err = ParseCursor(opts.Since); err != nil {
			return HistoryPage{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return HistoryPage{}, err
	}
	limit := opts.Limit
	if limit == 0 {
		limit = 100
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return HistoryPage{}, ErrClosed
	}
	b.evictLocked(b.opts.Now())
	var p HistoryPage
	p.Head = Cursor{Epoch: b.epoch, Seq: b.seq}.String()
	start := b.seq - uint64(b.n) + 1
	if opts.Since != "" {
		var ok bool
		start, ok = b.resumeLocked(since)
		p.Gap = !ok
	}
	p.Next = p.Head
	if limit < 0 {
		return p, nil
	}
	for seq := start; seq <= b.seq; seq++ {
		m := b.at(seq)
		if !f.Match(m.Topic) {
			continue
		}
		if len(p.Messages) == limit {
			p.More = true
			p.Next = p.Messages[limit-1].Cursor
			break
		}
		p.Messages = append(p.Messages, m)
	}
	return p, nil
}

// Subscribe starts a subscription; see Broker.Subscribe. Since and Group
// cannot be combined (ErrNotSupported): a group has no single position.
func (b *Memory) Subscribe(ctx context.Context, filter string, opts *SubscribeOptions) (Subscription, error) {
	return b.SubscribeMany(ctx, []string{filter}, opts)
}

// SubscribeMany subscribes to several filters on one subscription; see
// MultiSubscriber. A message matching more than one filter is delivered
// once, and messages arrive in cursor order whatever filter they match.
// A group takes exactly one filter.
func (b *Memory) SubscribeMany(ctx context.Context, filters []string, opts *SubscribeOptions) (Subscription, error) {
	fs, err := parseFilters(filters)
	if err != nil {
		return nil, err
	}
	o := opts.WithDefaults()
	since, err := b.checkOptions(&o, len(fs))
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newMemSub(&b.memory, fs, o)

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	b.collectGroupsLocked(b.opts.Now())
	if o.Group != "" {
		g, err := b.groupLocked(s)
		if err != nil {
			b.mu.Unlock()
			return nil, err
		}
		b.subs[s] = struct{}{}
		b.joinGroupLocked(s, g)
	} else {
		b.subs[s] = struct{}{}
		initial := b.initialLocked(s, since)
		for _, f := range fs {
			n := b.root.path(f.levels, true)
			n.subs = append(n.subs, s)
		}
		s.start(initial)
	}
	b.reapLocked()
	b.mu.Unlock()

	s.Watch(ctx, s.end)
	return s, nil
}

// parseFilters parses the filters of a subscription: at least one.
func parseFilters(filters []string) ([]Filter, error) {
	if len(filters) == 0 {
		return nil, fmt.Errorf("%w: no filter", ErrInvalidFilter)
	}
	fs := make([]Filter, len(filters))
	for i, filter := range filters {
		f, err := ParseFilter(filter)
		if err != nil {
			return nil, err
		}
		fs[i] = f
	}
	return fs, nil
}

// checkOptions refuses the option combinations Memory cannot honour for
// a subscription to n filters and parses o.Since.
func (b *Memory) checkOptions(o *SubscribeOptions, n int) (since Cursor, err error) {
	if o.Group != "" && n > 1 {
		return since, fmt.Errorf("%w: a group takes one filter", ErrNotSupported)
	}
	if o.Since == "" {
		return since, nil
	}
	if b.ring == nil {
		return since, fmt.Errorf("%w: history is disabled, cannot resume", ErrNotSupported)
	}
	if o.Group != "" {
		return since, fmt.Errorf("%w: Since cannot be combined with Group", ErrNotSupported)
	}
	return ParseCursor(o.Since)
}

// joinGroupLocked makes s a member of g (from groupLocked); b.mu held.
func (b *memory) joinGroupLocked(s *memSub, g *group) {
	b.groupJoinedLocked(g)
	s.group = g
	g.members = append(g.members, s)
	g.pump()
}

// initialLocked returns what a new subscription receives first: the
// history after since (setting s.gap when it no longer reaches back),
// or else the retained messages matching its filters, oldest first;
// b.mu held.
func (b *memory) initialLocked(s *memSub, since Cursor) []*Message {
	var initial []*Message
	if s.opts.Since != "" {
		start, ok := b.resumeLocked(since)
		s.gap = !ok
		if ok {
			for seq := start; seq <= b.seq; seq++ {
				if m := b.at(seq); s.match(m.Topic) {
					initial = append(initial, m)
				}
			}
		}
		return initial
	}
	if s.opts.NoRetained {
		return nil
	}
	for topic, r := range b.retained {
		if s.match(topic) {
			initial = append(initial, r.msg)
		}
	}
	sort.Slice(initial, func(i, j int) bool { return initial[i].Time.Before(initial[j].Time) })
	return initial
}

// removeLocked detaches s from the trie or its group; unacknowledged group
// deliveries go back to the group.
func (b *memory) removeLocked(s *memSub) {
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	if g := s.group; g != nil {
		g.members = slices.DeleteFunc(g.members, func(x *memSub) bool { return x == s })
		for i := len(s.inflight) - 1; i >= 0; i-- {
			g.requeue(s.inflight[i], "member-closed")
		}
		s.inflight = nil
		g.pump()
		b.groupLeftLocked(g, b.opts.Now())
		return
	}
	for _, f := range s.filters {
		if n := b.root.path(f.levels, false); n != nil {
			n.subs = slices.DeleteFunc(n.subs, func(x *memSub) bool { return x == s })
			b.root.prune(f.levels)
		}
	}
}

// deadLetterLocked publishes m to its dead-letter topic.
func (b *memory) deadLetterLocked(opts *SubscribeOptions, m *Message, reason string) {
	if b.opts.Logger != nil {
		b.opts.Logger.Debug("pubsub: dead-lettering", "topic", m.Topic, "id", m.ID, "reason", reason)
	}
	b.publishLocked(DeadLetter(opts, m, reason), b.opts.Now())
}

// Close ends every subscription with ErrClosed and waits for the broker's
// goroutines. It is idempotent.
func (b *Memory) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		for s := range b.subs {
			s.End(ErrClosed)
		}
		clear(b.subs)
		b.root = node{}
		b.groups = nil
		b.idle.Init()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}
