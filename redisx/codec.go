package redisx

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
)

// A stream entry id "<ms>-<seq>" is carried in a cursor's Seq as
// ms<<seqBits | seq: 42 bits of milliseconds (until the year 2109) and 22
// bits of per-millisecond sequence (4,194,304 entries in one millisecond).
// The encoding keeps the order of entry ids.
const (
	seqBits = 22
	msBits  = 64 - seqBits
)

// IDToSeq encodes a Redis stream entry id as a cursor sequence number. It
// fails with ErrCursorRange for an id outside the encodable range and with
// pubsub.ErrInvalidCursor for a malformed id.
func IDToSeq(id string) (uint64, error) {
	msPart, seqPart, ok := strings.Cut(id, "-")
	if !ok {
		return 0, fmt.Errorf("%w: stream id %q", pubsub.ErrInvalidCursor, id)
	}
	ms, err1 := strconv.ParseUint(msPart, 10, 64)
	seq, err2 := strconv.ParseUint(seqPart, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: stream id %q", pubsub.ErrInvalidCursor, id)
	}
	if ms >= 1<<msBits || seq >= 1<<seqBits {
		return 0, fmt.Errorf("%w: %q", ErrCursorRange, id)
	}
	return ms<<seqBits | seq, nil
}

// SeqToID decodes a cursor sequence number into the stream entry id it
// stands for.
func SeqToID(seq uint64) string {
	return strconv.FormatUint(seq>>seqBits, 10) + "-" + strconv.FormatUint(seq&(1<<seqBits-1), 10)
}

// seqTime is the time in an entry id: when Redis added the entry.
func seqTime(seq uint64) time.Time { return time.UnixMilli(int64(seq >> seqBits)) }

// Stream entry fields.
const (
	fieldTopic  = "t"
	fieldID     = "i"
	fieldData   = "d"
	fieldHeader = "h"
	fieldEpoch  = "e" // set by the publish script
	fieldCount  = "n" // set by the publish script: 1, 2, 3, … per namespace
)

// entryCount returns the count the publish script stored in an entry, 0
// if it has none.
func entryCount(values map[string]any) uint64 {
	s, _ := values[fieldCount].(string)
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// encodeHeader packs a header as (uvarint length, bytes) pairs, key then
// value: binary-safe, unlike JSON.
func encodeHeader(h map[string]string) string {
	if len(h) == 0 {
		return ""
	}
	var b []byte
	for k, v := range h {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return string(b)
}

// decodeHeader reverses encodeHeader.
func decodeHeader(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	h := make(map[string]string)
	for s != "" {
		var k, v string
		var ok bool
		if k, s, ok = cutString(s); !ok {
			return nil, fmt.Errorf("%w: header", ErrBadEntry)
		}
		if v, s, ok = cutString(s); !ok {
			return nil, fmt.Errorf("%w: header", ErrBadEntry)
		}
		h[k] = v
	}
	return h, nil
}

func cutString(s string) (string, string, bool) {
	n, w := binary.Uvarint([]byte(s[:min(len(s), binary.MaxVarintLen64)]))
	if w <= 0 || n > uint64(len(s)-w) {
		return "", "", false
	}
	return s[w : w+int(n)], s[w+int(n):], true
}

// entryEpoch returns the epoch the publish script stored in an entry.
func entryEpoch(values map[string]any) string {
	s, _ := values[fieldEpoch].(string)
	return s
}

// entryArgs returns the stream fields of msg, as XADD arguments (the
// publish script adds the epoch).
func entryArgs(msg *pubsub.Message) []any {
	args := []any{fieldTopic, msg.Topic, fieldID, msg.ID, fieldData, msg.Data}
	if h := encodeHeader(msg.Header); h != "" {
		args = append(args, fieldHeader, h)
	}
	return args
}

// decodeEntry turns a stream entry into a message (cursor and time from
// its id, the cursor's epoch from the entry, or epoch if it has none).
func decodeEntry(epoch, id string, values map[string]any) (*pubsub.Message, error) {
	seq, err := IDToSeq(id)
	if err != nil {
		return nil, err
	}
	str := func(k string) string { s, _ := values[k].(string); return s }
	if e := str(fieldEpoch); e != "" {
		epoch = e
	}
	topic := str(fieldTopic)
	if err := pubsub.ValidateTopic(topic); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadEntry, id, err)
	}
	h, err := decodeHeader(str(fieldHeader))
	if err != nil {
		return nil, fmt.Errorf("%w %s", err, id)
	}
	m := &pubsub.Message{Topic: topic, ID: str(fieldID), Header: h, Time: seqTime(seq),
		Cursor: pubsub.Cursor{Epoch: epoch, Seq: seq}.String()}
	if d := str(fieldData); d != "" {
		m.Data = []byte(d)
	} else {
		m.Data = []byte{}
	}
	return m, nil
}

// encodeRetained packs a retained message's ID, data and header, each
// length-prefixed; the publish script stores "<entry id> <packed>" in the
// retained hash.
func encodeRetained(msg *pubsub.Message) string {
	var b []byte
	for _, s := range []string{msg.ID, string(msg.Data), encodeHeader(msg.Header)} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return string(b)
}

// decodeRetained reverses the publish script's retained value; the message
// is flagged Retain and carries no cursor. It returns the sequence of the
// entry that set it.
func decodeRetained(topic, s string) (*pubsub.Message, uint64, error) {
	id, s, ok := strings.Cut(s, " ")
	if !ok {
		return nil, 0, fmt.Errorf("%w: retained value of %q", ErrBadEntry, topic)
	}
	seq, err := IDToSeq(id)
	if err != nil {
		return nil, 0, err
	}
	var parts [3]string
	for i := range parts {
		if parts[i], s, ok = cutString(s); !ok {
			return nil, 0, fmt.Errorf("%w: retained value of %q", ErrBadEntry, topic)
		}
	}
	h, err := decodeHeader(parts[2])
	if err != nil {
		return nil, 0, err
	}
	return &pubsub.Message{Topic: topic, ID: parts[0], Data: []byte(parts[1]), Header: h,
		Time: seqTime(seq), Retain: true}, seq, nil
}
