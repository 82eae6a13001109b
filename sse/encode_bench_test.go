package sse

import (
	"testing"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
)

// BenchmarkEncodeEvent compares encoding an envelope event per stream with
// copying it from the handler's cache (what the 999 other streams of a
// 1,000-subscriber fan-out do).
func BenchmarkEncodeEvent(b *testing.B) {
	m := &pubsub.Message{Topic: "bench/topic", ID: "e-42", Cursor: "e-42", Time: time.Now(),
		Header: map[string]string{"event": "update", "k": "v"}, Data: []byte(`{"t":1700000000000000000,"i":42,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)}
	for _, f := range []struct {
		name   string
		format Format
	}{{"envelope", FormatEnvelope}, {"data", FormatData}} {
		h := &Handler{o: Options{Format: f.format}}
		h.encode = h.encodeEvent
		buf := make([]byte, 0, 4096)
		b.Run(f.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				buf = h.encodeEvent(buf[:0], m)
			}
		})
		b.Run(f.name+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			buf = h.cache.Append(buf[:0], m, h.encode)
			for range b.N {
				buf = h.cache.Append(buf[:0], m, h.encode)
			}
		})
	}
}
