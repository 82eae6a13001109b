package natsx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/pubsub"
)

// node owns this process's core NATS subscriptions on the live subjects
// the stream republishes to: one per distinct subject, reference-counted,
// all feeding one channel read by one dispatcher goroutine, so messages
// reach the fan-out in stream order whatever subscription carried them. A
// message carried by several of the node's subscriptions (overlapping
// filters) arrives once per subscription, consecutively; the dispatcher
// keeps the first.
type node struct {
	b  *Broker
	ch chan *nats.Msg

	mu   sync.Mutex
	subs map[string]*nodeSub // live subject → subscription
	set  map[*nats.Subscription]bool

	advisory *nats.Subscription // stream deletions
	done     chan struct{}      // closed when the dispatcher returns
	quit     chan struct{}
}

type nodeSub struct {
	sub  *nats.Subscription
	refs int
}

func newNode(b *Broker) *node {
	return &node{b: b, ch: make(chan *nats.Msg, b.opts.NodeBuffer), subs: make(map[string]*nodeSub),
		set: make(map[*nats.Subscription]bool), done: make(chan struct{}), quit: make(chan struct{})}
}

// start subscribes to the stream's deletion advisory and starts the
// dispatcher.
func (n *node) start() error {
	subj := "$JS.EVENT.ADVISORY.STREAM.DELETED." + n.b.opts.Stream
	sub, err := n.b.nc.Subscribe(subj, func(*nats.Msg) { n.streamDeleted() })
	if err != nil {
		return fmt.Errorf("natsx: failed to watch the stream: %w", err)
	}
	n.advisory = sub
	go n.dispatch()
	if n.b.opts.StreamCheck > 0 {
		n.b.wg.Add(1)
		go n.watch()
	}
	return nil
}

// stop ends the dispatcher; the Broker has ended every subscription.
func (n *node) stop() {
	close(n.quit)
	<-n.done
	_ = n.advisory.Unsubscribe()
}

// liveSubjects maps stream subjects to the live subjects the stream
// republishes them to.
func (n *node) liveSubjects(subjects []string) []string {
	out := make([]string, len(subjects))
	p := n.b.opts.SubjectPrefix
	for i, s := range subjects {
		out[i] = n.b.opts.livePrefix() + strings.TrimPrefix(s, p)
	}
	return out
}

// acquire adds a reference to each subject and returns once the server
// has registered every subscription (a message stored afterwards is
// delivered).
func (n *node) acquire(ctx context.Context, subjects []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	added := false
	for i, s := range subjects {
		if ns := n.subs[s]; ns != nil {
			ns.refs++
			continue
		}
		sub, err := n.b.nc.ChanSubscribe(s, n.ch)
		if err != nil {
			n.releaseLocked(subjects[:i])
			return fmt.Errorf("natsx: failed to subscribe to %q: %w", s, err)
		}
		// The channel is the limit: the client reports a slow consumer
		// when it is full.
		_ = sub.SetPendingLimits(-1, -1)
		n.subs[s] = &nodeSub{sub: sub, refs: 1}
		n.set[sub] = true
		added = true
	}
	if added {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := n.b.nc.FlushWithContext(fctx); err != nil {
			n.releaseLocked(subjects)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("natsx: failed to subscribe: %w", err)
		}
	}
	return nil
}

// release drops a reference to each subject, unsubscribing the last.
func (n *node) release(subjects []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.releaseLocked(subjects)
}

func (n *node) releaseLocked(subjects []string) {
	for _, s := range subjects {
		ns := n.subs[s]
		if ns == nil {
			continue
		}
		if ns.refs--; ns.refs > 0 {
			continue
		}
		delete(n.subs, s)
		delete(n.set, ns.sub)
		_ = ns.sub.Unsubscribe()
	}
}

// owns reports whether sub is one of the node's subscriptions.
func (n *node) owns(sub *nats.Subscription) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.set[sub]
}

// count returns the number of core subscriptions the node holds.
func (n *node) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.subs)
}

// dispatch hands the live messages to the fan-out until stop.
func (n *node) dispatch() {
	defer close(n.done)
	var last uint64
	epoch := n.b.Epoch()
	var dead []*liveSub
	for {
		var nm *nats.Msg
		select {
		case nm = <-n.ch:
		case <-n.quit:
			return
		}
		if e := n.b.Epoch(); e != epoch {
			epoch, last = e, 0 // a new stream: sequences start afresh
		}
		seq, err := strconv.ParseUint(nm.Header.Get(hdrSequence), 10, 64)
		if err != nil {
			n.b.log.Warn("natsx: dropped a live message without a sequence", "subject", clip.String(nm.Subject))
			continue
		}
		if seq == last {
			continue // the same message through another of the node's subscriptions
		}
		if seq < last {
			// Sequences only grow on one connection: the stream restarted.
			n.b.log.Warn("natsx: stream sequence went back", "from", last, "to", seq)
			n.endLive(ErrStreamLost)
		}
		last = seq
		m := n.message(nm, seq)
		if m == nil {
			continue
		}
		dead = n.b.fan.Deliver(m.Topic, func(s *liveSub) bool { return s.OfferOnce(m) }, dead[:0])
		for _, s := range dead {
			n.b.detach(s)
		}
		clear(dead)
	}
}

// message decodes a live message; nil when it maps to no topic.
func (n *node) message(nm *nats.Msg, seq uint64) *pubsub.Message {
	subject := nm.Header.Get(hdrSubject)
	topic, err := SubjectToTopic(n.b.opts.SubjectPrefix, subject)
	if err != nil {
		n.b.log.Warn("natsx: dropped a message with an unusable subject", "subject", clip.String(subject), "err", err)
		return nil
	}
	m := fromNATS(nm.Header, nm.Data)
	m.Topic = topic
	m.Cursor = n.b.cursor(seq)
	m.Time = parseTime(nm.Header.Get(hdrTimestamp))
	return m
}

// disconnected ends the live subscriptions: core NATS does not keep what
// is published while the node is away.
func (n *node) disconnected(err error) {
	if n.b.ctx.Err() != nil {
		return
	}
	n.b.dropped()
	n.b.log.Warn("natsx: disconnected", "err", err)
	n.endLive(ErrDisconnected)
}

// streamDeleted handles the server's advisory that the stream was
// deleted: it ends every subscription that depends on the stream and
// creates it afresh, under a new epoch.
func (n *node) streamDeleted() {
	n.b.log.Warn("natsx: the history stream was deleted", "stream", n.b.opts.Stream)
	n.lost()
	if err := n.b.ensureStream(n.b.ctx); err != nil {
		n.b.log.Warn("natsx: failed to create the stream again", "err", err)
	}
}

// lost ends every subscription that depends on the stream.
func (n *node) lost() {
	n.endLive(ErrStreamLost)
	n.b.mu.Lock()
	qsubs := make([]*queueSub, 0, len(n.b.qsubs))
	for s := range n.b.qsubs {
		qsubs = append(qsubs, s)
	}
	n.b.mu.Unlock()
	for _, s := range qsubs {
		s.end(ErrStreamLost)
	}
}

// watch checks the stream every Options.StreamCheck, because the server
// does not always send the deletion advisory: a stream that is gone, or
// was created afresh (another epoch), is lost.
func (n *node) watch() {
	defer n.b.wg.Done()
	t := time.NewTicker(n.b.opts.StreamCheck)
	defer t.Stop()
	for {
		select {
		case <-n.b.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(n.b.ctx, n.b.opts.StreamCheck+5*time.Second)
		n.check(ctx)
		cancel()
	}
}

func (n *node) check(ctx context.Context) {
	st, err := n.b.js.Stream(ctx, n.b.opts.Stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		n.streamDeleted()
	case err != nil:
		return // not connected, say: the next check tells
	default:
		info := st.CachedInfo()
		if streamEpoch(info.Config.Name, info.Created) == n.b.Epoch() {
			return
		}
		n.b.log.Warn("natsx: the history stream was created afresh", "stream", n.b.opts.Stream)
		n.lost()
		if err := n.b.ensureStream(ctx); err != nil {
			n.b.log.Warn("natsx: failed to open the new stream", "err", err)
		}
	}
}

// endLive ends the node's live subscriptions with err.
func (n *node) endLive(err error) {
	for _, s := range n.b.fan.All() {
		s.Stop(err)
	}
}
