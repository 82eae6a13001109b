package redisx

import "errors"

// Errors returned by the Broker besides those of package pubsub. Match them
// with errors.Is.
var (
	// ErrTrimmed ends the live subscriptions of a node (or a replay) when
	// the stream was trimmed past a position the node had not read yet
	// (the node was cut off, or fell behind, for longer than Options.MaxLen
	// messages): messages may have been missed. Clients should resume from
	// their last cursor (they get a gap) or reload their state.
	ErrTrimmed = errors.New("redisx: history trimmed past an unread position, messages may be missing")

	// ErrReset ends every subscription of a node when Redis lost the
	// Broker's keys (a restart without persistence, FLUSHDB): the epoch
	// changed, so old cursors now resume with a gap.
	ErrReset = errors.New("redisx: redis lost the stream (new epoch), messages may be missing")

	// ErrTooLarge: a message exceeds Options.MaxMessageBytes.
	ErrTooLarge = errors.New("redisx: message too large")

	// ErrBadEntry: a stream entry or retained value that this package did
	// not write (it is skipped, with a warning to Options.Logger).
	ErrBadEntry = errors.New("redisx: malformed stream entry")

	// ErrCursorRange: a stream entry id that cannot be carried in a cursor
	// (see the package doc, "Cursors").
	ErrCursorRange = errors.New("redisx: stream entry id out of cursor range")
)

// More errors of group subscriptions.
var (
	// ErrGroupLost ends a group or ManualAck subscription whose consumer
	// group vanished (the stream was deleted, Redis lost its keys, or
	// XGROUP DESTROY).
	ErrGroupLost = errors.New("redisx: consumer group lost")

	// ErrUnknownDelivery: Ack or Nack of a message that is not an
	// unacknowledged delivery of the subscription (acknowledged already,
	// or from another subscription).
	ErrUnknownDelivery = errors.New("redisx: unknown delivery")
)
