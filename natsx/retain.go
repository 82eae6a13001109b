package natsx

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-go/switchboard/pubsub"
)

// The retained store is a second stream, "<Stream>_RETAIN" on
// "<prefix>_retain.>", keeping the last message per subject.

func (o *Options) retainStream() string { return o.Stream + "_RETAIN" }
func (o *Options) retainPrefix() string { return o.SubjectPrefix + "_retain" }

func (b *Broker) retainConfig() jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if b.opts.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name:              b.opts.retainStream(),
		Subjects:          []string{b.opts.retainPrefix() + ".>"},
		Storage:           storage,
		MaxMsgsPerSubject: 1,
		MaxBytes:          b.opts.HistoryMaxBytes,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
	}
}

// ensureRetain creates (or updates) the retained store.
func (b *Broker) ensureRetain(ctx context.Context) error {
	s, err := b.js.CreateOrUpdateStream(ctx, b.retainConfig())
	if err != nil {
		return fmt.Errorf("natsx: failed to create the stream %q: %w", b.opts.retainStream(), err)
	}
	b.emu.Lock()
	b.retained = s
	b.emu.Unlock()
	return nil
}

func (b *Broker) retainedStream() jetstream.Stream {
	b.emu.RLock()
	defer b.emu.RUnlock()
	return b.retained
}

// retainSubject maps a stream subject to its retained-store subject.
func (b *Broker) retainSubject(subject string) string {
	return b.opts.retainPrefix() + strings.TrimPrefix(subject, b.opts.SubjectPrefix)
}

// retain stores msg (already published on subject) as its topic's
// retained message, or clears it when msg.Data is empty.
func (b *Broker) retain(ctx context.Context, subject string, msg *pubsub.Message) error {
	rs := b.retainSubject(subject)
	if len(msg.Data) == 0 {
		if err := b.retainedStream().Purge(ctx, jetstream.WithPurgeSubject(rs)); err != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				if err := b.ensureRetain(ctx); err != nil {
					return err
				}
				return nil // a new store holds nothing to clear
			}
			return fmt.Errorf("natsx: published, but failed to clear the retained message: %w", err)
		}
		return nil
	}
	if _, err := b.publish(ctx, toNATS(rs, msg)); err != nil {
		return fmt.Errorf("natsx: published, but failed to retain: %w", err)
	}
	return nil
}

// retainedFor returns the retained messages matching s's filters, flagged
// Retain and without a cursor: one stream info request lists the store's
// subjects under the filters (nothing more when there are none, the usual
// case), then the last message of each matching subject is read.
func (b *Broker) retainedFor(ctx context.Context, s *liveSub, wide []string) ([]*pubsub.Message, error) {
	prefix := b.opts.retainPrefix()
	filter := prefix + strings.TrimPrefix(b.replayFilter(wide), b.opts.SubjectPrefix)
	st := b.retainedStream()
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("natsx: failed to list the retained messages: %w", err)
	}
	var subjects []string
	for subject := range info.State.Subjects {
		if topic, err := SubjectToTopic(prefix, subject); err == nil && s.Match(topic) {
			subjects = append(subjects, subject)
		}
	}
	slices.Sort(subjects)
	var out []*pubsub.Message
	for _, subject := range subjects {
		raw, err := st.GetLastMsgForSubject(ctx, subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // cleared meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("natsx: failed to read a retained message: %w", err)
		}
		topic, _ := SubjectToTopic(prefix, subject)
		m := fromNATS(raw.Header, raw.Data)
		if len(m.Data) == 0 {
			continue
		}
		m.Topic, m.Time, m.Retain = topic, raw.Time, true
		out = append(out, m)
	}
	return out, nil
}
