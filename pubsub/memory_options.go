package pubsub

import (
	"log/slog"
	"time"
)

// Defaults of MemoryOptions, used where a field is 0. They bound what one
// Memory keeps whatever its clients do: history at most 10,000 messages,
// one hour and 64 MiB; retained messages at most 10,000 topics and 64 MiB;
// at most 1,000 groups, each forgotten 10 minutes after its last member
// left, each holding at most 10,000 waiting messages.
const (
	// DefaultHistorySize is MemoryOptions.HistorySize's default, in messages.
	DefaultHistorySize = 10000
	// DefaultHistoryAge is MemoryOptions.HistoryAge's default.
	DefaultHistoryAge = time.Hour
	// DefaultHistoryBytes is MemoryOptions.HistoryBytes's default: 64 MiB.
	DefaultHistoryBytes = 64 << 20
	// DefaultBacklog is MemoryOptions.Backlog's default, in messages.
	DefaultBacklog = 10000
	// DefaultMaxRetained is MemoryOptions.MaxRetained's default, in topics.
	DefaultMaxRetained = 10000
	// DefaultMaxRetainedBytes is MemoryOptions.MaxRetainedBytes's default:
	// 64 MiB.
	DefaultMaxRetainedBytes = 64 << 20
	// DefaultGroupIdle is MemoryOptions.GroupIdle's default.
	DefaultGroupIdle = 10 * time.Minute
	// DefaultMaxGroups is MemoryOptions.MaxGroups's default. With
	// DefaultBacklog it bounds what abandoned groups can hold to 10 million
	// message references (80 MB) until GroupIdle forgets them.
	DefaultMaxGroups = 1000
)

// MemoryOptions configures NewMemory. The zero value is a good default:
// every field that is 0 takes the Default constant of its name, and every
// bound holds for any client input. A negative number or duration turns
// that bound off (where the field says so).
//
// A message's size, for HistoryBytes and MaxRetainedBytes, is the bytes
// of its Data, Topic, ID and Header keys and values.
type MemoryOptions struct {
	// HistorySize caps the history log in messages; 0 means
	// DefaultHistorySize (10,000), a negative value keeps no history (no
	// cursors, no resume).
	HistorySize int
	// HistoryAge drops history older than this; 0 means DefaultHistoryAge
	// (one hour), a negative value keeps messages until HistorySize or
	// HistoryBytes pushes them out.
	HistoryAge time.Duration
	// HistoryBytes caps the total size of the messages in the history log;
	// 0 means DefaultHistoryBytes (64 MiB), a negative value sets no byte
	// bound. The oldest messages are dropped to make room, as HistorySize
	// drops them: resuming from a cursor they covered reports a gap. A
	// message larger than HistoryBytes is delivered live but not kept.
	HistoryBytes int64
	// Backlog caps the messages held for a group, or a ManualAck
	// subscription, whose consumers have no free prefetch slot; 0 (or a
	// negative value) means DefaultBacklog (10,000). Beyond it a group
	// dead-letters its oldest message and a subscription overflows (see
	// OverflowPolicy).
	Backlog int
	// MaxRetained caps the number of topics holding a retained message; 0
	// means DefaultMaxRetained (10,000), a negative value sets no cap. A
	// retained publish to a new topic beyond it fails with ErrLimit;
	// replacing or clearing a topic's retained message is always allowed.
	// Retained messages are state and are never evicted.
	MaxRetained int
	// MaxRetainedBytes caps the total size of the retained messages; 0
	// means DefaultMaxRetainedBytes (64 MiB), a negative value sets no cap.
	// A retained publish that would take the total beyond it fails with
	// ErrLimit (replacing a message with one no larger, and clearing, are
	// always allowed).
	MaxRetainedBytes int64
	// GroupIdle is how long a group is kept after its last member left; 0
	// means DefaultGroupIdle (10 minutes), a negative value keeps groups
	// forever. When it passes the group is forgotten with its backlog (the
	// waiting messages are dropped, not dead-lettered); a later member
	// starts a new, empty group. Idle groups are collected by publishes
	// and subscriptions, without a timer or goroutine.
	GroupIdle time.Duration
	// MaxGroups caps the number of groups (a group is a name and a
	// filter); 0 means DefaultMaxGroups (1,000), a negative value sets no
	// cap. Joining a new group beyond it fails with ErrLimit; joining an
	// existing group is always allowed.
	MaxGroups int
	// DedupWindow is how long a publisher-supplied Message.ID is
	// remembered: a Publish repeating an ID accepted within the window
	// returns the original Receipt and is neither stored nor delivered
	// again (the ID is an idempotency key). 0 means DefaultDedupWindow
	// (2 minutes), a negative value turns it off. IDs the broker assigns
	// are unique and not remembered.
	DedupWindow time.Duration
	// DedupSize caps the IDs remembered; 0 (or a negative value: the
	// count cannot be unbounded) means DefaultDedupSize (100,000). Beyond
	// it the oldest are forgotten before their window ends.
	DedupSize int
	// Epoch fixes the cursor epoch (1 to 32 of [0-9a-z]); "" picks a random
	// one, so cursors from an earlier process are reported as gaps.
	Epoch string
	// Now is the clock; nil means time.Now. Tests may set it.
	Now func() time.Time
	// Logger receives debug events; nil means silent.
	Logger *slog.Logger
}

// withDefaults returns a copy of o (nil allowed) with its zero fields set
// to their defaults. Negative values stay negative: they mean "off".
func (o *MemoryOptions) withDefaults() MemoryOptions {
	var c MemoryOptions
	if o != nil {
		c = *o
	}
	c.HistorySize = or(c.HistorySize, DefaultHistorySize)
	c.HistoryAge = or(c.HistoryAge, DefaultHistoryAge)
	c.HistoryBytes = or(c.HistoryBytes, DefaultHistoryBytes)
	if c.Backlog <= 0 {
		c.Backlog = DefaultBacklog
	}
	c.MaxRetained = or(c.MaxRetained, DefaultMaxRetained)
	c.MaxRetainedBytes = or(c.MaxRetainedBytes, DefaultMaxRetainedBytes)
	c.GroupIdle = or(c.GroupIdle, DefaultGroupIdle)
	c.MaxGroups = or(c.MaxGroups, DefaultMaxGroups)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Epoch == "" || !validEpoch(c.Epoch) {
		c.Epoch = NewEpoch()
	}
	return c
}

// or returns def when v is 0, else v (negative values mean "off" to the
// caller). pubsub imports only the standard library, so this is its copy
// of internal/opt's rule.
func or[T ~int | ~int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}
