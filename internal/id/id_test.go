package id_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/id"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := id.New()
		require.Len(t, s, 20)
		require.Regexp(t, `^[0-9a-v]+$`, s)
		require.False(t, seen[s])
		seen[s] = true
	}
}
