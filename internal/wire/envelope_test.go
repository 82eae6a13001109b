package wire_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/wire"
	"github.com/switchboard-go/switchboard/pubsub"
)

// payloadFields is the payload part of an envelope, as a client decodes it.
type payloadFields struct {
	Data    json.RawMessage `json:"data"`
	Text    *string         `json:"text"`
	DataB64 *string         `json:"data_b64"`
}

func TestAppendDataForms(t *testing.T) {
	for _, c := range []struct{ payload, want string }{
		{"", `{}`},
		{`{"a":1}`, `{"data":{"a":1}}`},
		{`23.4`, `{"data":23.4}`},
		{`"quoted"`, `{"data":"quoted"}`},
		{"hello world", `{"text":"hello world"}`},
		{" 1", `{"text":" 1"}`},
		{"{\"a\":\r1}", `{"text":"{\"a\":\r1}"}`},
		{"a\tb\nc\\d\"e\x00\x1f\x7f", `{"text":"a\tb\nc\\d\"e\u0000\u001f` + "\x7f" + `"}`},
		{"<b>&é😀\u2028\u2029", `{"text":"<b>&é😀\u2028\u2029"}`},
		{"\xff\x00", `{"data_b64":"/wA="}`},
		{"ok\xed\xa0\x80", `{"data_b64":"b2vtoIA="}`}, // a UTF-16 surrogate is not UTF-8
	} {
		got := wire.AppendData([]byte("{"), []byte(c.payload))
		got = append(got, '}')
		if len(got) > 2 && got[1] == ',' {
			got = append(got[:1], got[2:]...)
		}
		require.Equal(t, c.want, string(got), "payload %q", c.payload)
		require.True(t, json.Valid(got), "%s", got)
	}
}

func TestDecodeDataRefusesTwoForms(t *testing.T) {
	for _, c := range []struct {
		data      string
		text, b64 string
	}{{`1`, "x", ""}, {`1`, "", "AA=="}, {``, "x", "AA=="}, {`1`, "x", "AA=="}} {
		_, err := wire.DecodeData(json.RawMessage(c.data), c.text, c.b64)
		require.ErrorIs(t, err, wire.ErrBadRequest, "%+v", c)
	}
	_, err := wire.DecodeData(nil, "", "!!")
	require.ErrorIs(t, err, wire.ErrBadRequest)
	d, err := wire.DecodeData(nil, "hello world", "")
	require.NoError(t, err)
	require.Equal(t, "hello world", string(d))
	d, err = wire.DecodeData(nil, "", "")
	require.NoError(t, err)
	require.Empty(t, d)
}

// roundTrip encodes payload with AppendData inside an envelope, decodes the
// envelope as a client would and returns the payload DecodeData gives back.
func roundTrip(t *testing.T, payload []byte) []byte {
	env := wire.AppendEnvelope(nil, &pubsub.Message{Topic: "t", Data: payload})
	if !json.Valid(env) {
		t.Fatalf("payload %q: invalid envelope %s", payload, env)
	}
	var f payloadFields
	if err := json.Unmarshal(env, &f); err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	n := 0
	text, b64 := "", ""
	if f.Data != nil {
		n++
	}
	if f.Text != nil {
		n++
		text = *f.Text
	}
	if f.DataB64 != nil {
		n++
		b64 = *f.DataB64
	}
	if n > 1 || (n == 0) != (len(payload) == 0) {
		t.Fatalf("payload %q: %d payload fields in %s", payload, n, env)
	}
	switch {
	case f.Data != nil && !wire.EmbeddableJSON(payload),
		f.Text != nil && (wire.EmbeddableJSON(payload) || !utf8.Valid(payload)),
		f.DataB64 != nil && utf8.Valid(payload):
		t.Fatalf("payload %q: wrong form in %s", payload, env)
	}
	got, err := wire.DecodeData(f.Data, text, b64)
	if err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	return got
}

func TestDataRoundTrip(t *testing.T) {
	for _, p := range []string{"", "hello world", "{\"a\":\r1}", "\xff", `"x"`, "a\u2028b\u2029", "\x00", "é\xe2\x80"} {
		require.Equal(t, p, string(roundTrip(t, []byte(p))))
	}
	buf := make([]byte, 0, 64)
	text := []byte("hello \"world\"\n")
	require.Zero(t, testing.AllocsPerRun(100, func() { buf = wire.AppendData(buf[:0], text) }))
}

// FuzzDataRoundTrip checks the payload rule: every payload travels in
// exactly one field of the form it belongs to and decodes to the same
// bytes. Seeds are in testdata/fuzz/FuzzDataRoundTrip.
func FuzzDataRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		if got := roundTrip(t, payload); string(got) != string(payload) {
			t.Fatalf("payload %q came back as %q", payload, got)
		}
	})
}

// FuzzDecodeData checks that DecodeData never panics and keeps its rule on
// whatever a client sends: at most one field, text and data kept as sent.
func FuzzDecodeData(f *testing.F) {
	f.Fuzz(func(t *testing.T, data, text, b64 string) {
		if data != "" && !json.Valid([]byte(data)) {
			return
		}
		got, err := wire.DecodeData(json.RawMessage(data), text, b64)
		set := 0
		for _, s := range []string{data, text, b64} {
			if s != "" {
				set++
			}
		}
		if set > 1 && err == nil {
			t.Fatalf("%d fields accepted", set)
		}
		if err == nil && (data != "" && string(got) != data || text != "" && string(got) != text) {
			t.Fatalf("got %q", got)
		}
	})
}
