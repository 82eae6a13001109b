package pubsub

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
)

// Cursor is a position in a broker's history: the broker's epoch (which
// changes whenever its history starts afresh, such as on restart) and a
// sequence number within it. Clients see it only as an opaque string.
type Cursor struct {
	Epoch string // 1 to 32 characters from [0-9a-z]
	Seq   uint64
}

// String encodes the cursor as "<epoch>-<seq>", safe in URLs, SSE ids and
// HTTP headers.
func (c Cursor) String() string {
	return c.Epoch + "-" + strconv.FormatUint(c.Seq, 10)
}

// ParseCursor decodes a cursor produced by Cursor.String. It never panics;
// the error wraps ErrInvalidCursor.
func ParseCursor(s string) (Cursor, error) {
	epoch, seq, ok := strings.Cut(s, "-")
	if !ok || !validEpoch(epoch) || seq == "" || len(seq) > 20 {
		return Cursor{}, fmt.Errorf("%w %q", ErrInvalidCursor, clip(s))
	}
	for i := 0; i < len(seq); i++ {
		if seq[i] < '0' || seq[i] > '9' {
			return Cursor{}, fmt.Errorf("%w %q", ErrInvalidCursor, clip(s))
		}
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w %q: sequence out of range", ErrInvalidCursor, clip(s))
	}
	return Cursor{Epoch: epoch, Seq: n}, nil
}

func validEpoch(e string) bool {
	if e == "" || len(e) > 32 {
		return false
	}
	for i := 0; i < len(e); i++ {
		c := e[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

const epochAlphabet = "0123456789abcdefghijklmnopqrstuv"

// NewEpoch returns a random 12-character epoch (60 bits).
func NewEpoch() string { return randomString(12) }

// NewID returns a random 20-character identifier (100 bits) of digits and
// lowercase letters, for Message.ID and for names a broker must make up
// (client ids, queue names, request ids). It is safe in topics, MQTT client
// ids, AMQP names and URLs.
func NewID() string { return randomString(20) }

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = epochAlphabet[b[i]&31]
	}
	return string(b)
}
