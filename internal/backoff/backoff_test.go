package backoff_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/backoff"
)

func TestDelay(t *testing.T) {
	b := backoff.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	require.Zero(t, b.Delay(0))
	for range 100 {
		d := b.Delay(1)
		require.True(t, d >= 50*time.Millisecond && d <= 100*time.Millisecond, "%v", d)
		d = b.Delay(3)
		require.True(t, d >= 200*time.Millisecond && d <= 400*time.Millisecond, "%v", d)
		d = b.Delay(100)
		require.True(t, d >= 500*time.Millisecond && d <= time.Second, "capped at Max: %v", d)
	}
	var zero backoff.Backoff
	d := zero.Delay(5)
	require.True(t, d >= 50*time.Millisecond && d <= 100*time.Millisecond, "zero value: Min=Max=100ms: %v", d)
}
