package wire_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/wire"
)

func TestCheckText(t *testing.T) {
	for _, ok := range []string{`{"filter":"a/#"}`, `{"t":"caf\u00e9 \ud83d\ude00"}`, `{"t":"\\ud800"}`, `"\ufffd"`, `{"t":"é😀"}`, `"\\"`, `"\"\\u"`} {
		require.NoError(t, wire.CheckText([]byte(ok)), "%s", ok)
	}
	for _, bad := range []string{`{"filter":"a/\ud800"}`, `{"filter":"a/\udc00/#"}`, `"\ud83d\u0041"`, `"\ud83d"`, "{\"t\":\"\xff\"}", "\"\xed\xa0\x80\""} {
		require.ErrorIs(t, wire.CheckText([]byte(bad)), wire.ErrBadRequest, "%s", bad)
	}
}

// FuzzCheckText checks the promise: what CheckText accepts, encoding/json
// decodes without substituting U+FFFD for anything.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{`"a/\ud800"`, `"\ud83d\ude00"`, `"\\ud800"`, `"\ufffd"`, "\"\xff\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v string
		if json.Unmarshal([]byte(s), &v) != nil || wire.CheckText([]byte(s)) != nil {
			return
		}
		if strings.ContainsRune(v, utf8.RuneError) && !strings.Contains(s, "\ufffd") && !strings.Contains(strings.ToLower(s), `\ufffd`) {
			t.Fatalf("%q accepted but decodes to %q", s, v)
		}
	})
}
