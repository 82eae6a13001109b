package opt_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/opt"
)

func TestOr(t *testing.T) {
	require.Equal(t, 5*time.Second, opt.Or(0, 5*time.Second))
	require.Equal(t, time.Duration(0), opt.Or(-1, 5*time.Second), "negative turns it off")
	require.Equal(t, time.Second, opt.Or(time.Second, 5*time.Second))
	require.Equal(t, 100, opt.Or(0, 100))
	require.Equal(t, int64(0), opt.Or(int64(-7), 1<<20))
	require.Equal(t, 3, opt.OrMin(-1, 3), "OrMin cannot turn a value off")
	require.Equal(t, 4, opt.OrMin(4, 3))
}
