package graphqlsub

import (
	"context"
	"sync/atomic"
)

// Budget is the byte budget of one query or mutation result
// (Options.Limits.MaxResponseBytes), shared by every resolver of the
// operation. A resolver that returns a lot of data (a history page, for
// each of many aliases) takes what it returns from it and stops, or fails,
// when it runs out, so that a result never grows far past the limit
// before the Handler refuses it. It is safe for concurrent use; a nil
// *Budget has no bound.
type Budget struct{ left atomic.Int64 }

// Take reserves n bytes and reports whether they were left; when they
// were not, nothing is taken.
func (b *Budget) Take(n int64) bool {
	if b == nil {
		return true
	}
	for {
		left := b.left.Load()
		if n > left {
			return false
		}
		if b.left.CompareAndSwap(left, left-n) {
			return true
		}
	}
}

// Left returns the bytes left (math.MaxInt64 for a nil Budget).
func (b *Budget) Left() int64 {
	if b == nil {
		return 1<<63 - 1
	}
	return b.left.Load()
}

type budgetKey struct{}

// ResponseBudget returns the budget of the operation ctx belongs to, or
// nil (no bound) outside a Handler or when MaxResponseBytes is off.
func ResponseBudget(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

func withResponseBudget(ctx context.Context, n int64) context.Context {
	b := &Budget{}
	b.left.Store(n)
	return context.WithValue(ctx, budgetKey{}, b)
}
