package ratelimit

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBucketsBounded: however many keys come, at most maxKeys are held;
// refilled buckets go first.
func TestBucketsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBuckets(1, 1, 100)
		for i := range 10000 {
			require.NoError(t, b.take(fmt.Sprint(i), "x"))
			require.LessOrEqual(t, len(b.m), 100)
		}
		require.Error(t, b.take("9999", "x"))
		time.Sleep(time.Second) // every bucket refills
		require.NoError(t, b.take("new", "x"))
		require.NoError(t, b.take("new2", "x"))
		require.Len(t, b.m, 2, "refilled buckets are dropped before live ones")
	})
}
