package redisx

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/switchboard-go/switchboard/pubsub"
)

// FuzzEntry checks the mapping between messages and Redis: a stream entry
// id survives the trip through a cursor (and keeps its order), every
// valid message survives the trip through stream fields and through the
// retained hash, and malformed ids, headers and retained values are
// refused with the package's errors, never a panic.
func FuzzEntry(f *testing.F) {
	f.Add("a/b", "1700000000000-0", []byte("hi"), "k", "v", uint64(1700000000000), uint64(0))
	f.Add("$sys/x", "0-0", []byte{}, "", "", uint64(0), uint64(0))
	f.Add("ü/ñ//", "4398046511103-4194303", []byte{0, 0xff, '\r', '\n'}, "üñí", "çødé", uint64(1<<42-1), uint64(1<<22-1))
	f.Add("x", "4398046511104-0", []byte(nil), "k\x00", "\xff", uint64(1<<42), uint64(1<<22))
	f.Add("a b", "12-", []byte("x"), "", "v", uint64(12), uint64(3))
	f.Add("t", "-1-2", []byte("x"), "sb-reply-to", "r", uint64(5), uint64(1))
	f.Fuzz(func(t *testing.T, topic, id string, data []byte, hk, hv string, ms, sq uint64) {
		// Arbitrary ids: refused with the package's errors.
		if seq, err := IDToSeq(id); err != nil {
			if !errors.Is(err, pubsub.ErrInvalidCursor) && !errors.Is(err, ErrCursorRange) {
				t.Fatalf("IDToSeq(%q): unexpected error %v", id, err)
			}
		} else if back, err := IDToSeq(SeqToID(seq)); err != nil || back != seq {
			t.Fatalf("IDToSeq(SeqToID(%d)) = %d, %v", seq, back, err)
		}
		// In-range ids round-trip, in order.
		ms, sq = ms%(1<<msBits), sq%(1<<seqBits)
		canon := fmt.Sprintf("%d-%d", ms, sq)
		seq, err := IDToSeq(canon)
		if err != nil || SeqToID(seq) != canon {
			t.Fatalf("%q → %d → %q, %v", canon, seq, SeqToID(seq), err)
		}
		if ms > 0 {
			if prev, _ := IDToSeq(fmt.Sprintf("%d-%d", ms-1, 1<<seqBits-1)); prev >= seq {
				t.Fatalf("order lost: %d-max ≥ %s", ms-1, canon)
			}
		}
		// Arbitrary packed headers and retained values: no panic.
		if _, err := decodeHeader(hk + hv); err != nil && !errors.Is(err, ErrBadEntry) {
			t.Fatalf("decodeHeader: %v", err)
		}
		if _, _, err := decodeRetained(topic, id+" "+hk); err != nil && !errors.Is(err, ErrBadEntry) &&
			!errors.Is(err, pubsub.ErrInvalidCursor) && !errors.Is(err, ErrCursorRange) {
			t.Fatalf("decodeRetained: %v", err)
		}

		if pubsub.ValidateTopic(topic) != nil {
			return
		}
		msg := &pubsub.Message{Topic: topic, ID: pubsub.NewID(), Data: data}
		if hk != "" {
			msg.Header = map[string]string{hk: hv}
		}
		// Through stream fields, as Redis returns them (strings).
		args := entryArgs(msg)
		values := map[string]any{fieldEpoch: "ep0ch", fieldCount: "7"}
		for i := 0; i < len(args); i += 2 {
			switch v := args[i+1].(type) {
			case []byte:
				values[args[i].(string)] = string(v)
			default:
				values[args[i].(string)] = v
			}
		}
		got, err := decodeEntry("other", canon, values)
		if err != nil {
			t.Fatalf("decodeEntry: %v", err)
		}
		same(t, msg, got)
		if got.Cursor != (pubsub.Cursor{Epoch: "ep0ch", Seq: seq}).String() || entryCount(values) != 7 {
			t.Fatalf("cursor %q", got.Cursor)
		}
		// Through the retained hash.
		r, rseq, err := decodeRetained(topic, canon+" "+encodeRetained(msg))
		if err != nil || rseq != seq || !r.Retain || r.Cursor != "" {
			t.Fatalf("decodeRetained: %v %d %+v", err, rseq, r)
		}
		same(t, msg, r)
	})
}

func same(t *testing.T, want, got *pubsub.Message) {
	t.Helper()
	if got.Topic != want.Topic || got.ID != want.ID || !bytes.Equal(got.Data, want.Data) ||
		got.Data == nil || !maps.Equal(got.Header, want.Header) {
		t.Fatalf("round trip: want %+v, got %+v", want, got)
	}
}
