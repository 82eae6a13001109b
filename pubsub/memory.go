package pubsub

import (
	"log/slog"
	"time"
)

// MemoryOptions configures NewMemory. The zero value is a good default.
type MemoryOptions struct {
	// HistorySize caps the history log in messages; 0 means 10,000, a
	// negative value keeps no history (no cursors, no resume).
	HistorySize int
	// HistoryAge drops history older than this; 0 means one hour, a
	// negative value keeps messages until HistorySize pushes them out.
	HistoryAge time.Duration
	// Backlog caps the messages held for a group, or a ManualAck
	// subscription, whose consumers have no free prefetch slot; 0 means
	// 10,000. Beyond it a group dead-letters its oldest message and a
	// subscription overflows (see OverflowPolicy).
	Backlog int
	// Epoch fixes the cursor epoch (1 to 32 of [0-9a-z]); "" picks a random
	// one, so cursors from an earlier process are reported as gaps.
	Epoch string
	// Now is the clock; nil means time.Now. Tests may set it.
	Now func() time.Time
	// Logger receives debug events; nil means silent.
	Logger *slog.Logger
}

// Memory is the in-process Broker: a topic trie, a bounded history log,
// retained messages, groups and acknowledgements. Create it with NewMemory.
// It is safe for concurrent use.
type Memory struct {
	memory
}

var _ Broker = (*Memory)(nil)
var _ HistoryReader = (*Memory)(nil)
