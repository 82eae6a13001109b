package ws

import (
	"sync/atomic"
	"unsafe"

	"github.com/switchboard-go/switchboard/pubsub"
)

// envCache remembers the encoded envelope fields of recently delivered
// messages, so a message fanned out to many connections of one Handler is
// encoded (and its payload validated as JSON) once, not once per
// connection. Brokers hand the same read-only *Message to every
// subscriber; an entry keeps its message alive, so a pointer match always
// means the same message. Lock-free: writers race benignly on a slot (the
// loser's entry is simply replaced).
type envCache struct {
	slots [envCacheSlots]atomic.Pointer[envEntry]
}

const (
	envCacheSlots = 128
	// envCacheMax is the largest payload cached, which bounds the cache to
	// about envCacheSlots × 2 × envCacheMax bytes.
	envCacheMax = 8 << 10
)

type envEntry struct {
	m      *pubsub.Message
	fields []byte // appendEnvelopeFields(m)
}

// appendFields appends the envelope fields of m (see appendEnvelopeFields)
// to dst, from the cache when m was encoded recently.
func (c *envCache) appendFields(dst []byte, m *pubsub.Message) []byte {
	if len(m.Data) > envCacheMax {
		return appendEnvelopeFields(dst, m)
	}
	return append(dst, c.fields(m)...)
}

// fields returns the envelope fields of a message of at most envCacheMax
// payload bytes. The result is shared: read-only.
func (c *envCache) fields(m *pubsub.Message) []byte {
	// Messages are at least 128 bytes apart; the low bits carry nothing.
	slot := &c.slots[(uintptr(unsafe.Pointer(m))>>7)%envCacheSlots]
	if e := slot.Load(); e != nil && e.m == m {
		return e.fields
	}
	e := &envEntry{m: m, fields: appendEnvelopeFields(make([]byte, 0, len(m.Data)+160), m)}
	slot.Store(e)
	return e.fields
}
