package pubsub

import "context"

// Head returns the cursor of the newest message in b, for a transport that
// starts a client live and wants to give it a resume point before its first
// message. It returns "" and no error when b keeps no history. It reads no
// messages (HistoryOptions.Limit < 0).
func Head(ctx context.Context, b Broker) (string, error) {
	hr, ok := b.(HistoryReader)
	if !ok || !b.Capabilities().History {
		return "", nil
	}
	p, err := hr.History(ctx, "#", HistoryOptions{Limit: -1})
	return p.Head, err
}
