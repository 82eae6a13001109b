package redisx

import (
	"cmp"
	"github.com/switchboard-go/switchboard/pubsub"
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
)

// The defaults of Options, applied to every zero field.
const (
	// DefaultPrefix is the default Options.Prefix.
	DefaultPrefix = "switchboard"
	// DefaultMaxLen is the default Options.MaxLen: the history stream keeps
	// about this many messages (XADD MAXLEN ~).
	DefaultMaxLen = 1_000_000
	// DefaultMinBackoff is the default Options.MinBackoff.
	DefaultMinBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff is the default Options.MaxBackoff.
	DefaultMaxBackoff = 10 * time.Second
	// DefaultDedupWindow is the default Options.DedupWindow (2 minutes).
	DefaultDedupWindow = pubsub.DefaultDedupWindow
	// DefaultDedupSize is the default Options.DedupSize (100,000 IDs).
	DefaultDedupSize = pubsub.DefaultDedupSize
	// DefaultKeepAlive is the default Options.KeepAlive.
	DefaultKeepAlive = 5 * time.Second
	// DefaultDrainTimeout is the default Options.DrainTimeout.
	DefaultDrainTimeout = 5 * time.Second
	// DefaultClaimIdle is the default Options.ClaimIdle.
	DefaultClaimIdle = 30 * time.Second
	// DefaultMaxMessageBytes is the default Options.MaxMessageBytes (16 MiB).
	DefaultMaxMessageBytes = 16 << 20
)

// defaultURL is what Dial connects to when its url is "".
const defaultURL = "redis://127.0.0.1:6379/0"

// readCount is the most entries one XREAD or XRANGE returns.
const readCount = 512

// Options configures Dial. A nil *Options, and every zero field, means the
// default; numbers and durations follow one rule: 0 means the default, a
// negative value turns the feature off where it can be off, and means the
// default where it cannot (each field says which). Dial copies the
// Options: changing them afterwards has no effect.
type Options struct {
	// Prefix starts every Redis key the Broker uses; "" means
	// DefaultPrefix ("switchboard"). The keys are "<prefix>:log" (the
	// stream), "<prefix>:epoch", "<prefix>:count" (the entry counter)
	// and "<prefix>:retained". Brokers with the
	// same Prefix on the same Redis database see the same messages.
	Prefix string

	// MaxLen bounds the stream: every XADD trims it to about MaxLen
	// entries (MAXLEN ~, whole radix-tree nodes at a time, so a little
	// more is kept); 0 means DefaultMaxLen (1,000,000), negative means no
	// trimming (the stream grows until trimmed by hand); a positive value
	// below 512 (one read) means 512. A cursor older than the oldest entry
	// kept resumes with a gap.
	MaxLen int64

	// MaxMessageBytes caps Data plus header bytes on Publish; 0 means
	// DefaultMaxMessageBytes (16 MiB), negative means no cap of our own
	// (Redis's proto-max-bulk-len, 512 MB by default, still applies).
	MaxMessageBytes int

	// MinBackoff and MaxBackoff bound the delay between attempts when the
	// node's reader loses its connection (doubling with jitter), and
	// go-redis's retry backoff for commands; 0 (or negative: they cannot
	// be off) means DefaultMinBackoff (100 ms) and DefaultMaxBackoff
	// (10 s).
	MinBackoff, MaxBackoff time.Duration

	// KeepAlive is how long one blocking read (XREAD BLOCK, XREADGROUP
	// BLOCK) waits before it is issued again, so an idle connection sees
	// traffic at least this often and a dead one is noticed; 0 (or
	// negative: it cannot be off) means DefaultKeepAlive (5 s).
	KeepAlive time.Duration

	// DrainTimeout bounds how long Close waits for publishes in flight; 0
	// means DefaultDrainTimeout (5 s), negative does not wait.
	DrainTimeout time.Duration

	// ClaimIdle is how long a group delivery may stay unacknowledged
	// before another member of the group claims it (XAUTOCLAIM): the
	// member that had it crashed or is stuck; 0 (or negative: it cannot
	// be off) means DefaultClaimIdle (30 s).
	ClaimIdle time.Duration

	// DedupWindow is how long a message ID is remembered: a Publish
	// repeating a publisher-supplied ID accepted within the window returns
	// the original Receipt and adds nothing, and the node drops a stream
	// entry whose ID it delivered within the window (a publisher's repeat
	// through another node) before its fan-out, as replays and History
	// reads skip it. 0 means DefaultDedupWindow (2 minutes), negative turns
	// both off.
	DedupWindow time.Duration
	// DedupSize caps the IDs remembered; 0 (or negative: it cannot be
	// unbounded) means DefaultDedupSize (100,000).
	DedupSize int

	// Logger receives connection events at Info and Warn; nil means
	// silent.
	Logger *slog.Logger
}

// withDefaults returns a copy of o (nil allowed) with every default
// applied.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	c.Prefix = cmp.Or(c.Prefix, DefaultPrefix)
	c.MaxLen = opt.Or(c.MaxLen, DefaultMaxLen)
	if c.MaxLen > 0 {
		c.MaxLen = max(c.MaxLen, readCount)
	}
	c.MaxMessageBytes = opt.Or(c.MaxMessageBytes, DefaultMaxMessageBytes)
	c.MinBackoff = opt.OrMin(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = max(opt.OrMin(c.MaxBackoff, DefaultMaxBackoff), c.MinBackoff)
	c.KeepAlive = opt.OrMin(c.KeepAlive, DefaultKeepAlive)
	c.DrainTimeout = opt.Or(c.DrainTimeout, DefaultDrainTimeout)
	c.ClaimIdle = opt.OrMin(c.ClaimIdle, DefaultClaimIdle)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
