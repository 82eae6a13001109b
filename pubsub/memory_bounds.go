package pubsub

import (
	"fmt"
	"slices"
	"time"
)

// This file holds Memory's bounds on what clients can make it keep: the
// history's bytes, the retained store, and abandoned groups.

// messageSize is what a message counts against HistoryBytes and
// MaxRetainedBytes: its payload, topic, header keys and values, and the ID
// its publisher set (an ID the broker assigns is not counted).
func messageSize(m *Message) int64 {
	n := len(m.Data) + len(m.Topic) + len(m.ID)
	for k, v := range m.Header {
		n += len(k) + len(v)
	}
	return int64(n)
}

// dropOldestLocked removes the oldest history entry; b.mu held, b.n > 0.
func (b *memory) dropOldestLocked() {
	b.histBytes -= b.sizes[b.head]
	b.ring[b.head], b.sizes[b.head] = nil, 0
	b.head = (b.head + 1) % len(b.ring)
	b.n--
}

// appendHistoryLocked adds m (of the given size) to the history, dropping
// the oldest entries beyond HistorySize and HistoryBytes; b.mu held. A
// message larger than HistoryBytes is dropped at once, which leaves its
// cursor valid (it is the head) without keeping it.
func (b *memory) appendHistoryLocked(m *Message, size int64) {
	b.evictLocked(m.Time) // m is stamped with the publish's clock reading
	if b.n == len(b.ring) {
		b.dropOldestLocked()
	}
	i := (b.head + b.n) % len(b.ring)
	b.ring[i], b.sizes[i] = m, size
	b.n++
	b.histBytes += size
	for b.opts.HistoryBytes > 0 && b.histBytes > b.opts.HistoryBytes {
		b.dropOldestLocked()
	}
}

// retainedEntry is a retained message and its size.
type retainedEntry struct {
	msg  *Message
	size int64
}

// admitRetainedLocked refuses a retained publish that would take the
// retained store past MaxRetained or MaxRetainedBytes; b.mu held. Clearing
// is always allowed, and so is replacing a topic's message, unless the
// replacement is larger and would exceed MaxRetainedBytes.
func (b *memory) admitRetainedLocked(msg *Message) error {
	if !msg.Retain || len(msg.Data) == 0 {
		return nil
	}
	old, exists := b.retained[msg.Topic]
	if max := b.opts.MaxRetained; !exists && max > 0 && len(b.retained) >= max {
		return fmt.Errorf("%w: retained message on %q refused: %d topics already hold one (MemoryOptions.MaxRetained); clear one with an empty retained message",
			ErrLimit, clip(msg.Topic), len(b.retained))
	}
	size := messageSize(msg)
	if max := b.opts.MaxRetainedBytes; max > 0 && size > old.size && b.retainedBytes-old.size+size > max {
		return fmt.Errorf("%w: retained message of %d bytes on %q refused: retained messages would hold %d bytes, over %d (MemoryOptions.MaxRetainedBytes)",
			ErrLimit, size, clip(msg.Topic), b.retainedBytes-old.size+size, max)
	}
	return nil
}

// retainLocked stores m as its topic's retained message (or clears it when
// m has no data); b.mu held, admitRetainedLocked passed.
func (b *memory) retainLocked(m *Message, size int64) {
	if old, ok := b.retained[m.Topic]; ok {
		b.retainedBytes -= old.size
		delete(b.retained, m.Topic)
	}
	if len(m.Data) == 0 {
		return
	}
	r := *m
	r.Retain = true
	r.Cursor = "" // state, not a position: resuming from it would replay
	b.retained[m.Topic] = retainedEntry{msg: &r, size: size}
	b.retainedBytes += size
}

// groupLocked returns the group s joins, creating it when it is new and
// MaxGroups allows; b.mu held.
func (b *memory) groupLocked(s *memSub) (*group, error) {
	f := s.filters[0]
	key := s.opts.Group + "\x00" + f.raw
	if g := b.groups[key]; g != nil {
		return g, nil
	}
	if max := b.opts.MaxGroups; max > 0 && len(b.groups) >= max {
		return nil, fmt.Errorf("%w: group %q on %q refused: %d groups exist (MemoryOptions.MaxGroups)",
			ErrLimit, clip(s.opts.Group), clip(f.raw), len(b.groups))
	}
	g := &group{b: b, key: key, name: s.opts.Group, filter: f}
	b.groups[key] = g
	n := b.root.path(f.levels, true)
	n.groups = append(n.groups, g)
	return g, nil
}

// groupJoinedLocked takes g off the idle list when it gains a member;
// b.mu held.
func (b *memory) groupJoinedLocked(g *group) {
	if g.idle != nil {
		b.idle.Remove(g.idle)
		g.idle = nil
	}
}

// groupLeftLocked puts g on the idle list when its last member has gone;
// b.mu held. The list is in the order groups became idle, so collecting
// looks only at its front.
func (b *memory) groupLeftLocked(g *group, now time.Time) {
	if len(g.members) > 0 || g.idle != nil || b.opts.GroupIdle < 0 || b.groups[g.key] != g {
		return
	}
	g.idleSince = now
	g.idle = b.idle.PushBack(g)
}

// collectGroupsLocked forgets the groups that have had no member for
// GroupIdle, with their backlogs; b.mu held. Publish and Subscribe call it
// before touching the trie, never in the middle of a fan-out. Each trie
// node is swept once, so collecting n groups costs O(n) however many share
// a filter.
func (b *memory) collectGroupsLocked(now time.Time) {
	var swept map[*node][]string // node → its levels
	for e := b.idle.Front(); e != nil; e = b.idle.Front() {
		g := e.Value.(*group)
		if now.Sub(g.idleSince) < b.opts.GroupIdle {
			break
		}
		b.idle.Remove(e)
		g.idle = nil
		g.gone = true
		delete(b.groups, g.key)
		if b.opts.Logger != nil {
			b.opts.Logger.Debug("pubsub: forgetting an idle group", "group", g.name, "filter", g.filter.raw,
				"dropped", len(g.backlog), "idle", now.Sub(g.idleSince))
		}
		clear(g.backlog)
		g.backlog = nil
		if n := b.root.path(g.filter.levels, false); n != nil {
			if swept == nil {
				swept = make(map[*node][]string)
			}
			swept[n] = g.filter.levels
		}
	}
	for n, levels := range swept {
		b.sweepGroupsLocked(n, levels)
	}
}

// sweepGroupsLocked removes forgotten groups from n, the node at levels,
// and prunes the trie; b.mu held.
func (b *memory) sweepGroupsLocked(n *node, levels []string) {
	n.groups = slices.DeleteFunc(n.groups, func(x *group) bool { return x.gone })
	b.root.prune(levels)
}
