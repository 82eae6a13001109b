package mqttx

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/switchboard-go/switchboard/internal/clip"
)

// quieter hands mochi-mqtt's records to the configured logger one level
// lower (Info becomes Debug, Warn becomes Info), tagged component=mochi:
// mochi logs routine events, and every client's protocol error, at Info
// and Warn. A packet in a record (mochi dumps whole packets, payload and
// all, into "error processing packet") becomes a one-line summary.
type quieter struct{ h slog.Handler }

func mochiLogger(l *slog.Logger) *slog.Logger {
	return slog.New(quieter{l.Handler()}).With("component", "mochi")
}

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return q.h.Enabled(ctx, l-4)
}

func (q quieter) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level-4, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(summarize(a))
		return true
	})
	return q.h.Handle(ctx, out)
}

func (q quieter) WithAttrs(as []slog.Attr) slog.Handler {
	for i, a := range as {
		as[i] = summarize(a)
	}
	return quieter{q.h.WithAttrs(as)}
}

// summarize replaces a packet value by its type, topic, QoS, packet id
// and payload size.
func summarize(a slog.Attr) slog.Attr {
	pk, ok := a.Value.Any().(packets.Packet)
	if !ok {
		if p, isPtr := a.Value.Any().(*packets.Packet); isPtr && p != nil {
			pk, ok = *p, true
		}
	}
	if !ok {
		return a
	}
	s, known := packets.PacketNames[pk.FixedHeader.Type]
	if !known {
		s = "packet type " + strconv.Itoa(int(pk.FixedHeader.Type))
	}
	if pk.TopicName != "" {
		s += " topic=" + strconv.Quote(clip.String(pk.TopicName))
	}
	if pk.FixedHeader.Type == packets.Publish {
		s += " qos=" + strconv.Itoa(int(pk.FixedHeader.Qos)) + " bytes=" + strconv.Itoa(len(pk.Payload))
	}
	if pk.PacketID != 0 {
		s += " id=" + strconv.Itoa(int(pk.PacketID))
	}
	return slog.String(a.Key, s)
}
func (q quieter) WithGroup(n string) slog.Handler { return quieter{q.h.WithGroup(n)} }
