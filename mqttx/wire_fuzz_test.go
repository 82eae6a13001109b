package mqttx

import (
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
)

// FuzzWire checks that a message's header, ID and time survive the MQTT 5
// property mapping, whatever the keys and values, and that decoding
// arbitrary user properties never panics.
func FuzzWire(f *testing.F) {
	f.Add("event", "update", "id-1", "x", []byte("payload"), int64(1700000000123456789))
	f.Add(pubsub.HeaderReplyTo, "r/1", "", "sb-time", []byte{0, 0xff}, int64(0))
	f.Add(HeaderMessageExpiry, "60", "i", "", []byte(nil), int64(-1))
	f.Add(HeaderContentType, "", "sb-id", "\x00", []byte{}, int64(1))
	f.Fuzz(func(t *testing.T, k, v, id, rawKey string, data []byte, nanos int64) {
		// decoding arbitrary properties never panics
		_ = fromWire("t", data, false, wire{user: [][2]string{{rawKey, v}, {propTime, v}, {propID, id}}}, time.Now())

		if k == propID || k == propTime || k == "" {
			return
		}
		m := &pubsub.Message{Topic: "t", Data: data, ID: id, Header: map[string]string{k: v, "fixed": "1"}}
		if nanos > 0 {
			m.Time = time.Unix(0, nanos).UTC()
		}
		if k == HeaderMessageExpiry && !isUint32(v) {
			return // an unparsable expiry stays a user property but is not a property
		}
		if (k == pubsub.HeaderReplyTo || k == HeaderContentType) && v == "" {
			return // empty properties are absent on the wire
		}
		w := toWire(m)
		got := fromWire(m.Topic, m.Data, false, w, time.Time{})
		if got.ID != m.ID {
			t.Fatalf("ID %q became %q", m.ID, got.ID)
		}
		if !got.Time.Equal(m.Time) {
			t.Fatalf("time %v became %v", m.Time, got.Time)
		}
		if len(got.Header) != len(m.Header) {
			t.Fatalf("header %q became %q", m.Header, got.Header)
		}
		for hk, hv := range m.Header {
			if got.Header[hk] != hv {
				t.Fatalf("header %q=%q became %q", hk, hv, got.Header[hk])
			}
		}
	})
}

func isUint32(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	return n <= 1<<32-1
}
