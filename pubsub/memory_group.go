package pubsub

import (
	"container/list"
	"slices"
	"time"
)

// group is a set of competing consumers sharing one filter. Its backlog
// outlives its members, like a durable queue: messages published while the
// group has no free consumer wait (up to MemoryOptions.Backlog, beyond which
// the oldest is dead-lettered), until the group has had no member for
// MemoryOptions.GroupIdle.
type group struct {
	b       *memory
	key     string // in memory.groups
	name    string
	filter  Filter
	members []*memSub
	next    int        // round-robin position
	backlog []*Message // waiting; Attempt is the number of the next delivery

	idle      *list.Element // in memory.idle while the group has no member
	idleSince time.Time     // when the last member left
	gone      bool          // forgotten after GroupIdle
}

// push queues a published message and dispatches; b.mu held.
func (g *group) push(m *Message) {
	if len(g.backlog) >= g.b.opts.Backlog {
		old := g.backlog[0]
		g.backlog = slices.Delete(g.backlog, 0, 1)
		g.b.deadLetterLocked(g.deadOpts(), old, "backlog-overflow")
	}
	g.backlog = append(g.backlog, m)
	g.pump()
}

func (g *group) deadOpts() *SubscribeOptions {
	if len(g.members) > 0 {
		return &g.members[0].opts
	}
	return nil
}

// requeue puts an unacknowledged delivery back at the front, or
// dead-letters it after MaxDeliveries; b.mu held.
func (g *group) requeue(d *Message, reason string) {
	s := d // the delivery copy is private to its subscription
	opts := g.deadOpts()
	max := DefaultMaxDeliveries
	if opts != nil {
		max = opts.MaxDeliveries
	}
	if max > 0 && s.Attempt >= max {
		g.b.deadLetterLocked(opts, s, "max-deliveries")
		return
	}
	r := *s
	r.Attempt++
	g.backlog = slices.Insert(g.backlog, 0, &r)
}

// pump hands backlog messages to members round-robin: ManualAck members
// while they have a free prefetch slot, others while their buffer has room.
// When every member with automatic ack is full, the first of them is closed
// as a slow consumer (it keeps its buffered messages) and its share goes to
// the others. b.mu held.
func (g *group) pump() {
	for len(g.backlog) > 0 && len(g.members) > 0 {
		m := g.backlog[0]
		delivered := false
		var full *memSub
		for i := 0; i < len(g.members) && !delivered; i++ {
			s := g.members[(g.next+i)%len(g.members)]
			if s.opts.ManualAck {
				if len(s.inflight) < s.opts.Prefetch {
					d := *m
					delivered = s.deliverAck(&d)
				}
			} else if s.put(m) {
				delivered = true
			} else if full == nil {
				full = s
			}
			if delivered {
				g.next = (g.next + i + 1) % len(g.members)
			}
		}
		if delivered {
			g.backlog[0] = nil
			g.backlog = g.backlog[1:]
			continue
		}
		if full == nil {
			return // ManualAck members are all at their prefetch: wait for acks
		}
		full.overflow()
		g.members = slices.DeleteFunc(g.members, func(x *memSub) bool { return x == full })
	}
}
