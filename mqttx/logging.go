package mqttx

import (
	"context"
	"log/slog"
)

// quieter hands mochi-mqtt's records to the configured logger one level
// lower (Info becomes Debug, Warn becomes Info), tagged component=mochi:
// mochi logs routine events, and every client's protocol error, at Info
// and Warn.
type quieter struct{ h slog.Handler }

func mochiLogger(l *slog.Logger) *slog.Logger {
	return slog.New(quieter{l.Handler()}).With("component", "mochi")
}

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return q.h.Enabled(ctx, l-4)
}

func (q quieter) Handle(ctx context.Context, r slog.Record) error {
	r.Level -= 4
	return q.h.Handle(ctx, r)
}

func (q quieter) WithAttrs(as []slog.Attr) slog.Handler { return quieter{q.h.WithAttrs(as)} }
func (q quieter) WithGroup(n string) slog.Handler       { return quieter{q.h.WithGroup(n)} }
