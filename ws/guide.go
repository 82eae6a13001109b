package ws

import (
	"fmt"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// The guide form (see the package doc): subscribe and unsubscribe with
// "topics" and no id, publish with no id. A guide subscription is keyed in
// session.subs by guideKey(topic), which no switchboard.v1 id can equal
// (ids are UTF-8; the key starts with a byte UTF-8 never uses).

func guideKey(topic string) string { return "\xff" + topic }

func (s *session) handleGuide(f *clientFrame) {
	switch f.Type {
	case typeSubscribe:
		s.guideSubscribe(f)
	case typeUnsubscribe:
		s.guideUnsubscribe(f)
	case typePublish:
		s.guidePublish(f)
	}
}

func (s *session) sendErrAbout(topic string, err error) {
	s.send(ctrlItem{b: appendErrorAbout(nil, "", topic, err)})
}

// guideSubscribe subscribes to every topic of f that the connection is not
// subscribed to yet, all or none: a refusal of one topic (error frame with
// that topic) subscribes to none. The answer lists f's topics.
func (s *session) guideSubscribe(f *clientFrame) {
	topics := dedupe(f.Topics)
	for _, t := range topics {
		if err := s.h.opts.Auth.Check(s.ctx, s.id, transport.ActionSubscribe, t); err != nil {
			s.h.opts.Observer.OnSubRefused("ws", err, t)
			s.sendErrAbout(t, err)
			return
		}
	}
	s.mu.Lock()
	n := len(s.subs)
	var fresh []string
	for _, t := range topics {
		if _, ok := s.subs[guideKey(t)]; !ok {
			fresh = append(fresh, t)
		}
	}
	s.mu.Unlock()
	if max := s.h.opts.Limits.MaxSubscriptions; max > 0 && n+len(fresh) > max {
		err := fmt.Errorf("%w: at most %d subscriptions per connection", transport.ErrLimit, max)
		s.h.opts.Observer.OnSubRefused("ws", err, fresh...)
		s.sendErrAbout("", err)
		return
	}
	head := ""
	if f.Since == "" {
		head = s.head()
	}
	type opened struct {
		ss  *serverSub
		gap bool
	}
	subs := make([]opened, 0, len(fresh))
	for _, t := range fresh {
		sub, gap, err := s.open(t, f.Since, "")
		if err != nil {
			for _, o := range subs {
				_ = o.ss.sub.Close()
			}
			s.sendErrAbout(t, err)
			return
		}
		subs = append(subs, opened{&serverSub{id: guideKey(t), topic: t, sub: sub, ch: sub.C(), filter: t}, gap})
	}
	s.mu.Lock()
	for _, o := range subs {
		s.watch(o.ss)
		s.h.opts.Observer.OnSubStarted("ws", o.ss.filter)
		s.subs[o.ss.id] = o.ss
	}
	s.mu.Unlock()
	// The answer first, then each subscription (and its gap frame): the
	// writer handles control items in order, so no message precedes it.
	ok := s.send(ctrlItem{b: appendTopicsFrame(nil, typeSubscribed, f.Topics, head)})
	for _, o := range subs {
		if !ok || !s.send(ctrlItem{kind: ctrlAdd, sub: o.ss, gap: o.gap}) {
			ok = false
			_ = o.ss.sub.Close()
		}
	}
}

// guideUnsubscribe ends the guide subscriptions to f's topics (topics the
// connection is not subscribed to are ignored, as in the guide's server)
// and answers with f's topics.
func (s *session) guideUnsubscribe(f *clientFrame) {
	for _, t := range dedupe(f.Topics) {
		s.mu.Lock()
		ss := s.subs[guideKey(t)]
		delete(s.subs, guideKey(t))
		s.mu.Unlock()
		if ss == nil {
			continue
		}
		ss.unsubscribed.Store(true)
		_ = ss.sub.Close()
		s.subEnded(ss, transport.EndClient, nil)
		if !s.send(ctrlItem{kind: ctrlRemove, sub: ss}) {
			return
		}
	}
	s.send(ctrlItem{b: appendTopicsFrame(nil, typeUnsubscribed, f.Topics, "")})
}

// guidePublish publishes a guide-form publish. It has no id, so success is
// silent; a refusal is an error frame naming the topic.
func (s *session) guidePublish(f *clientFrame) {
	err := s.h.opts.Auth.Check(s.ctx, s.id, transport.ActionPublish, f.Topic)
	if max := s.h.opts.Limits.MaxMessageBytes; err == nil && max > 0 && int64(len(f.payload)) > max {
		err = fmt.Errorf("%w: payload of %d bytes exceeds %d", transport.ErrTooLarge, len(f.payload), max)
	}
	if err == nil {
		_, err = transport.PublishObserved(s.ctx, s.h.opts.Observer, "ws", s.h.broker, pubsub.Message{Topic: f.Topic, Data: f.payload, Header: f.Header, Retain: f.Retain, ID: f.Key})
	}
	if err != nil {
		s.sendErrAbout(f.Topic, err)
	}
}

// dedupe returns topics without repeats, in order.
func dedupe(topics []string) []string {
	if len(topics) < 2 {
		return topics
	}
	seen := make(map[string]bool, len(topics))
	out := make([]string, 0, len(topics))
	for _, t := range topics {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
