package wire

import (
	"sync/atomic"
	"unsafe"

	"github.com/switchboard-go/switchboard/pubsub"
)

// EncodeCache remembers one encoding per recently delivered message, so a
// message fanned out to many connections of one handler is encoded (and
// its payload checked for JSON) once, not once per connection. Brokers hand
// the same read-only *Message to every subscriber; an entry keeps its
// message alive, so a pointer match always means the same message.
//
// The zero value is ready to use. It is safe for concurrent use and
// lock-free: writers race benignly on a slot (the loser's entry is simply
// replaced). It holds at most EncodeCacheSlots entries of at most
// MaxCachedPayload payload bytes each.
type EncodeCache struct {
	slots [EncodeCacheSlots]atomic.Pointer[cacheEntry]
}

// Bounds of an EncodeCache.
const (
	EncodeCacheSlots = 128
	MaxCachedPayload = 8 << 10 // larger payloads are encoded every time
)

type cacheEntry struct {
	m *pubsub.Message
	b []byte // immutable once stored
}

// Append appends the encoding of m to dst: the cached bytes when m was
// encoded recently, else encode's output, which is then cached. encode must
// depend on m alone (the same message always encodes the same way in one
// cache).
func (c *EncodeCache) Append(dst []byte, m *pubsub.Message, encode func(dst []byte, m *pubsub.Message) []byte) []byte {
	if len(m.Data) > MaxCachedPayload {
		return encode(dst, m)
	}
	// Messages are at least 128 bytes apart; the low bits carry nothing.
	slot := &c.slots[(uintptr(unsafe.Pointer(m))>>7)%EncodeCacheSlots]
	if e := slot.Load(); e != nil && e.m == m {
		return append(dst, e.b...)
	}
	start := len(dst)
	dst = encode(dst, m)
	slot.Store(&cacheEntry{m: m, b: append([]byte(nil), dst[start:]...)})
	return dst
}
