package natsx

import (
	"cmp"
	"github.com/switchboard-go/switchboard/pubsub"
	"log/slog"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
)

// The defaults of Options, applied to every zero field.
const (
	// DefaultStream is the default Options.Stream.
	DefaultStream = "SWITCHBOARD"
	// DefaultSubjectPrefix is the default Options.SubjectPrefix.
	DefaultSubjectPrefix = "switchboard"
	// DefaultName is the default Options.Name.
	DefaultName = "switchboard"
	// DefaultHistoryMaxAge is the default Options.HistoryMaxAge.
	DefaultHistoryMaxAge = 24 * time.Hour
	// DefaultHistoryMaxBytes is the default Options.HistoryMaxBytes (1 GiB).
	DefaultHistoryMaxBytes = 1 << 30
	// DefaultAckWait is the default Options.AckWait.
	DefaultAckWait = 30 * time.Second
	// DefaultNackDelay is the default Options.NackDelay.
	DefaultNackDelay = 100 * time.Millisecond
	// DefaultMinBackoff is the default Options.MinBackoff.
	DefaultMinBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff is the default Options.MaxBackoff.
	DefaultMaxBackoff = 10 * time.Second
	// DefaultDedupWindow is the default Options.DedupWindow (2 minutes).
	DefaultDedupWindow = pubsub.DefaultDedupWindow
	// DefaultDedupSize is the default Options.DedupSize (100,000 IDs).
	DefaultDedupSize = pubsub.DefaultDedupSize
	// DefaultKeepAlive is the default Options.KeepAlive (NATS PING interval).
	DefaultKeepAlive = 20 * time.Second
	// DefaultDrainTimeout is the default Options.DrainTimeout.
	DefaultDrainTimeout = 5 * time.Second
	// DefaultStreamCheck is the default Options.StreamCheck.
	DefaultStreamCheck = 5 * time.Second
	// DefaultNodeBuffer is the default Options.NodeBuffer.
	DefaultNodeBuffer = 65536
)

// defaultURL is what Dial connects to when its url is "".
const defaultURL = "nats://127.0.0.1:4222"

// Options configures Dial. A nil *Options, and every zero field, means the
// default; numbers and durations follow one rule: 0 means the default, a
// negative value turns the feature off where it can be off, and means the
// default where it cannot (each field says which). Dial copies the
// Options: changing them afterwards has no effect.
type Options struct {
	// Stream names the JetStream stream that keeps the history; "" means
	// DefaultStream ("SWITCHBOARD"). Every node of one deployment uses the
	// same Stream and SubjectPrefix.
	Stream string

	// SubjectPrefix starts every subject: messages are published on
	// "<prefix>.<topic levels>", the stream captures "<prefix>.>" and
	// republishes each stored message, with its sequence number, to
	// "<prefix>_live.<topic levels>" for live delivery; "" means
	// DefaultSubjectPrefix ("switchboard").
	SubjectPrefix string

	// Name is the NATS connection name (shown by the server's monitoring);
	// "" means DefaultName.
	Name string

	// HistoryMaxAge and HistoryMaxBytes bound the stream (MaxAge,
	// MaxBytes); 0 (or negative: the stream is always bounded) means
	// DefaultHistoryMaxAge (24 h) and DefaultHistoryMaxBytes (1 GiB).
	HistoryMaxAge   time.Duration
	HistoryMaxBytes int64

	// MemoryStorage keeps the stream in memory instead of on disk.
	MemoryStorage bool

	// AckWait is how long the server waits for the Ack of a group or
	// ManualAck delivery before it redelivers it; 0 (or negative) means
	// DefaultAckWait (30 s).
	AckWait time.Duration

	// NackDelay delays the redelivery of a message nacked with requeue;
	// 0 means DefaultNackDelay (100 ms), negative redelivers at once.
	NackDelay time.Duration

	// GroupExpiry deletes a group's durable consumer after it had no
	// member for this long; 0 (or negative) keeps it until deleted by hand.
	GroupExpiry time.Duration

	// StreamCheck is how often the node checks that the stream still
	// exists (the server's deletion advisory is not always sent); a lost
	// stream ends every subscription with ErrStreamLost. 0 means
	// DefaultStreamCheck (5 s), negative turns the check off (the
	// advisory alone then tells).
	StreamCheck time.Duration

	// NodeBuffer is the node's queue of live messages between the NATS
	// connection and the fan-out; 0 (or negative: it cannot be off) means
	// DefaultNodeBuffer. When it overflows, the node's live subscriptions
	// end with ErrSlowNode.
	NodeBuffer int

	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// with jitter from MinBackoff to MaxBackoff; 0 (or negative: they
	// cannot be off) means DefaultMinBackoff (100 ms) and
	// DefaultMaxBackoff (10 s).
	MinBackoff, MaxBackoff time.Duration

	// KeepAlive is the interval of NATS PINGs; 0 means DefaultKeepAlive
	// (20 s), negative turns pings off.
	KeepAlive time.Duration

	// DrainTimeout bounds how long Close waits for publishes in flight; 0
	// means DefaultDrainTimeout (5 s), negative does not wait.
	DrainTimeout time.Duration

	// DedupWindow is how long this node remembers the publisher-supplied
	// IDs it published: a Publish repeating one within the window returns
	// the original Receipt at once. JetStream deduplicates on its own
	// (the ID and subject travel as Nats-Msg-Id, within the stream's Duplicates
	// window, 2 minutes unless the stream says otherwise), across nodes
	// too, so a copy is never stored or delivered. 0 means
	// DefaultDedupWindow (2 minutes), negative turns the local memory off.
	DedupWindow time.Duration
	// DedupSize caps the IDs remembered; 0 (or negative: it cannot be
	// unbounded) means DefaultDedupSize (100,000).
	DedupSize int

	// Logger receives connection events at Info and dropped deliveries at
	// Warn; nil means silent.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	c.Stream = cmp.Or(c.Stream, DefaultStream)
	c.SubjectPrefix = cmp.Or(c.SubjectPrefix, DefaultSubjectPrefix)
	c.Name = cmp.Or(c.Name, DefaultName)
	c.HistoryMaxAge = opt.OrMin(c.HistoryMaxAge, DefaultHistoryMaxAge)
	c.HistoryMaxBytes = opt.OrMin(c.HistoryMaxBytes, DefaultHistoryMaxBytes)
	c.AckWait = opt.OrMin(c.AckWait, DefaultAckWait)
	c.NackDelay = opt.Or(c.NackDelay, DefaultNackDelay)
	c.GroupExpiry = max(c.GroupExpiry, 0)
	c.StreamCheck = opt.Or(c.StreamCheck, DefaultStreamCheck)
	c.NodeBuffer = opt.OrMin(c.NodeBuffer, DefaultNodeBuffer)
	c.MinBackoff = opt.OrMin(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = max(opt.OrMin(c.MaxBackoff, DefaultMaxBackoff), c.MinBackoff)
	c.KeepAlive = opt.Or(c.KeepAlive, DefaultKeepAlive)
	c.DrainTimeout = opt.Or(c.DrainTimeout, DefaultDrainTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// livePrefix is where the stream republishes stored messages.
func (o *Options) livePrefix() string { return o.SubjectPrefix + "_live" }
