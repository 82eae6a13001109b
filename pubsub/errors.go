package pubsub

import (
	"errors"
	"fmt"
)

// Errors returned by brokers. Match them with errors.Is; the text after the
// prefix carries the detail.
var (
	// ErrClosed: the broker or the subscription is closed.
	ErrClosed = errors.New("pubsub: closed")
	// ErrSlowConsumer: a subscription overflowed its buffer. The error is a
	// *SlowConsumerError carrying the last delivered cursor.
	ErrSlowConsumer = errors.New("pubsub: slow consumer")
	// ErrInvalidTopic: a topic name breaks the rules in the package doc.
	ErrInvalidTopic = errors.New("pubsub: invalid topic")
	// ErrInvalidFilter: a topic filter breaks the rules in the package doc.
	ErrInvalidFilter = errors.New("pubsub: invalid filter")
	// ErrInvalidCursor: a cursor is not one this package produced.
	ErrInvalidCursor = errors.New("pubsub: invalid cursor")
	// ErrNotSupported: the broker lacks the capability an option needs.
	ErrNotSupported = errors.New("pubsub: not supported")
	// ErrLimit: a bound of the broker was reached (Memory's MaxRetained,
	// MaxRetainedBytes or MaxGroups). The call is refused and nothing is
	// stored; retrying after state was cleared, or later, may succeed.
	// Transports answer it as a limit (HTTP 429, MQTT 0x97 quota exceeded).
	ErrLimit = errors.New("pubsub: limit reached")
	// ErrUnavailable: the broker cannot reach its server now (a network
	// broker during an outage); the call did nothing and may succeed later.
	// Transports answer it as unavailable (HTTP 503 with Retry-After, gRPC
	// Unavailable).
	ErrUnavailable = errors.New("pubsub: unavailable")
	// ErrGap: history does not reach back to the requested cursor. Returned
	// by helpers that cannot report a gap in band.
	ErrGap = errors.New("pubsub: history gap")
)

// SlowConsumerError ends a subscription whose buffer overflowed under
// OverflowClose. errors.Is(err, ErrSlowConsumer) is true.
type SlowConsumerError struct {
	// LastCursor is the cursor of the last message put on the
	// subscription's channel ("" if none, or the broker keeps no history).
	// C stays readable until drained; after draining it, resuming from
	// LastCursor loses nothing while history reaches back.
	LastCursor string
}

func (e *SlowConsumerError) Error() string {
	return fmt.Sprintf("pubsub: slow consumer: buffer overflowed after cursor %q", e.LastCursor)
}

// Is makes errors.Is(err, ErrSlowConsumer) true.
func (e *SlowConsumerError) Is(target error) bool { return target == ErrSlowConsumer }
