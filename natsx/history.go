package natsx

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-go/switchboard/pubsub"
)

// replayStall is how long a replay waits for a subscriber with a full
// buffer before ending it as a slow consumer: a replay holds a server-side
// consumer, which a stalled client must not keep.
const replayStall = 5 * time.Second

// readBatch is how many messages one fetch of a stream reader asks for.
const readBatch = 256

// state reads the stream's first and last sequence now.
func (b *Broker) state(ctx context.Context) (first, last uint64, err error) {
	info, err := b.historyStream().Info(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return 0, 0, ErrStreamLost
		}
		return 0, 0, fmt.Errorf("natsx: failed to read the stream state: %w", err)
	}
	return info.State.FirstSeq, info.State.LastSeq, nil
}

// resume decides where a replay after cursor c starts: gap when c is from
// another epoch, older than the stream's first message, or beyond its
// last (a cursor from the future).
func (b *Broker) resume(c pubsub.Cursor, first, last uint64) (from uint64, gap bool) {
	if c.Epoch != b.Epoch() || c.Seq > last || c.Seq+1 < first {
		return max(first, 1), true
	}
	return c.Seq + 1, false
}

// readStream reads the stream's messages on filter (one subject) with
// sequences in [from, upto], in order, calling fn for each until fn
// returns false or stop is closed. It uses a short-lived ephemeral
// consumer and knows it is done from the pending counts, so it never waits
// for a timeout.
func (b *Broker) readStream(ctx context.Context, stop <-chan struct{}, filter string, from, upto uint64, fn func(seq uint64, m jetstream.Msg) bool) error {
	if from > upto {
		return nil
	}
	return b.read(ctx, stop, b.historyStream(), jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
		FilterSubject: filter,
	}, upto, fn)
}

// read reads st with an ephemeral consumer configured by cfg (its
// delivery policy and filter), up to sequence upto; see readStream.
func (b *Broker) read(ctx context.Context, stop <-chan struct{}, st jetstream.Stream, cfg jetstream.ConsumerConfig, upto uint64, fn func(seq uint64, m jetstream.Msg) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if stop != nil {
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	cfg.AckPolicy = jetstream.AckNonePolicy
	cfg.InactiveThreshold = time.Minute
	cfg.MemoryStorage = true
	cons, err := st.CreateConsumer(ctx, cfg)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return ErrStreamLost
		}
		return fmt.Errorf("natsx: failed to read the stream: %w", err)
	}
	name := cons.CachedInfo().Name
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		_ = st.DeleteConsumer(dctx, name)
	}()
	pending := cons.CachedInfo().NumPending
	for pending > 0 {
		fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
		batch, err := cons.Fetch(int(min(pending, readBatch)), jetstream.FetchContext(fctx))
		if err != nil {
			fcancel()
			return stopped(ctx, stop, err)
		}
		done, err := consume(batch, upto, &pending, fn)
		fcancel()
		if done || err != nil {
			return stopped(ctx, stop, err)
		}
	}
	return nil
}

// consume hands one fetched batch to fn; done when the read is over.
func consume(batch jetstream.MessageBatch, upto uint64, pending *uint64, fn func(uint64, jetstream.Msg) bool) (done bool, err error) {
	got := 0
	for msg := range batch.Messages() {
		got++
		meta, err := msg.Metadata()
		if err != nil {
			continue
		}
		seq := meta.Sequence.Stream
		*pending = meta.NumPending
		if seq > upto || !fn(seq, msg) || seq == upto {
			return true, nil
		}
	}
	if err := batch.Error(); err != nil {
		return true, err
	}
	if got == 0 {
		return true, errors.New("natsx: stream read returned nothing")
	}
	return false, nil
}

// stopped turns an error of a read that was stopped on purpose into nil.
func stopped(ctx context.Context, stop <-chan struct{}, err error) error {
	if err == nil {
		return nil
	}
	if stop != nil {
		select {
		case <-stop:
			return nil
		default:
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("natsx: failed to read the stream: %w", err)
}

// decode turns a stream message into a pubsub.Message; nil when its
// subject maps to no topic.
func (b *Broker) decode(seq uint64, msg jetstream.Msg) *pubsub.Message {
	return b.decodeUnder(b.opts.SubjectPrefix, seq, msg)
}

func (b *Broker) decodeUnder(prefix string, seq uint64, msg jetstream.Msg) *pubsub.Message {
	topic, err := SubjectToTopic(prefix, msg.Subject())
	if err != nil {
		return nil
	}
	m := fromNATS(msg.Headers(), msg.Data())
	m.Topic = topic
	m.Cursor = b.cursor(seq)
	if meta, err := msg.Metadata(); err == nil {
		m.Time = meta.Timestamp
	}
	return m
}

// History reads the stream: the messages matching filter after
// opts.Since, oldest first, up to the stream's last message at the time
// of the read (Head). A read with nothing newer than Since, or with a
// negative Limit, creates no consumer.
func (b *Broker) History(ctx context.Context, filter string, opts pubsub.HistoryOptions) (pubsub.HistoryPage, error) {
	f, subjects, err := FilterToSubjects(b.opts.SubjectPrefix, filter)
	if err != nil {
		return pubsub.HistoryPage{}, err
	}
	var since pubsub.Cursor
	if opts.Since != "" {
		if since, err = pubsub.ParseCursor(opts.Since); err != nil {
			return pubsub.HistoryPage{}, err
		}
	}
	limit := opts.Limit
	if limit == 0 {
		limit = 100
	}
	if err := b.begin(); err != nil {
		return pubsub.HistoryPage{}, err
	}
	defer b.inflight.Done()
	first, last, err := b.state(ctx)
	if err != nil {
		return pubsub.HistoryPage{}, err
	}
	var p pubsub.HistoryPage
	from := max(first, 1)
	if opts.Since != "" {
		from, p.Gap = b.resume(since, first, last)
	}
	// A stream that never held a message has head "<epoch>-0", before its
	// first sequence: resuming from it replays everything published since.
	p.Head = b.cursor(last)
	p.Next = p.Head
	if from > last || limit < 0 {
		return p, nil
	}
	err = b.readStream(ctx, nil, streamFilter(b.opts.SubjectPrefix, subjects), from, last, func(seq uint64, msg jetstream.Msg) bool {
		m := b.decode(seq, msg)
		if m == nil || !f.Match(m.Topic) {
			return true
		}
		if len(p.Messages) == limit {
			p.More = true
			p.Next = p.Messages[limit-1].Cursor
			return false
		}
		p.Messages = append(p.Messages, m)
		return true
	})
	if err != nil {
		if b.ctx.Err() != nil {
			return pubsub.HistoryPage{}, pubsub.ErrClosed
		}
		return pubsub.HistoryPage{}, err
	}
	return p, nil
}

// subscribeSince starts plain subscription s, which replays the stream
// after since, then continues live with no gap and no duplicate. It joins
// live delivery first (holding live messages back), then reads the
// stream's last sequence: every message up to it is replayed from the
// stream, every later one is among the held live messages.
func (b *Broker) subscribeSince(ctx context.Context, s *liveSub, since pubsub.Cursor, wide []string) (pubsub.Subscription, error) {
	s.Hold()
	fail := func(err error) (pubsub.Subscription, error) {
		s.End(err)
		s.Replay(nil, nil, 0) // closes C
		return nil, err
	}
	if err := b.node.acquire(ctx, s.subjects); err != nil {
		return fail(err)
	}
	if !b.fan.Add(s) {
		b.node.release(s.subjects)
		return fail(pubsub.ErrClosed)
	}
	first, last, err := b.state(ctx)
	if err != nil {
		s.Stop(err)
		s.Replay(nil, nil, 0)
		return nil, err
	}
	from, gap := b.resume(since, first, last)
	s.SetGap(gap)
	covered := func(m *pubsub.Message) bool {
		c, _ := pubsub.ParseCursor(m.Cursor)
		return c.Seq <= last
	}
	var backlog iter.Seq[*pubsub.Message]
	if !gap && from <= last {
		backlog = func(yield func(*pubsub.Message) bool) {
			err := b.readStream(b.ctx, s.Done(), b.replayFilter(wide), from, last, func(seq uint64, msg jetstream.Msg) bool {
				m := b.decode(seq, msg)
				if m == nil || !s.Match(m.Topic) {
					return true
				}
				return yield(m)
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				s.Stop(err)
			}
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if s.Replay(backlog, covered, replayStall) {
			b.detach(s)
		}
	}()
	s.Watch(ctx)
	return s, nil
}

// replayFilter is the one stream filter covering every filter of a
// replay: the common one, or the whole stream.
func (b *Broker) replayFilter(wide []string) string {
	d := dedupe(wide)
	if len(d) == 1 {
		return d[0]
	}
	return b.opts.SubjectPrefix + ".>"
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		dup := false
		for _, y := range out {
			dup = dup || x == y
		}
		if !dup {
			out = append(out, x)
		}
	}
	return out
}
