package clip_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/clip"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestString(t *testing.T) {
	require.Equal(t, "short", clip.String("short"))
	exact := strings.Repeat("a", clip.Max)
	require.Equal(t, exact, clip.String(exact))
	require.Equal(t, exact+"…", clip.String(exact+"b"))
	// A multi-byte rune straddling the cut is dropped whole.
	s := strings.Repeat("a", clip.Max-1) + "é" + "tail"
	got := clip.String(s)
	require.True(t, utf8.ValidString(got), "%q", got)
	require.Equal(t, strings.Repeat("a", clip.Max-1)+"…", got)
}
