package procstat

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestReadsOwnProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	require.Positive(t, RSSKiB(os.Getpid()))
	require.GreaterOrEqual(t, CPUSeconds(os.Getpid()), 0.0)
}

func TestNoPid(t *testing.T) {
	require.Zero(t, RSSKiB(0))
	require.Zero(t, RSSKiB(-1))
	require.Zero(t, CPUSeconds(0))
	require.Zero(t, CPUSeconds(-1))
}
