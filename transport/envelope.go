package transport

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/switchboard-go/switchboard/internal/wire"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Envelope is the JSON form of a message, for decoding and for documentation.
// Transports write it without reflection and keep Data verbatim. Exactly
// one of Data, Text and DataB64 carries a non-empty payload (see the
// package doc); none carries the empty payload.
type Envelope struct {
	Topic   string            `json:"topic"`
	ID      string            `json:"id,omitempty"`
	Cursor  string            `json:"cursor,omitempty"`
	Time    string            `json:"time,omitempty"` // RFC 3339 with nanoseconds, UTC
	Header  map[string]string `json:"header,omitempty"`
	Data    json.RawMessage   `json:"data,omitempty"`     // a JSON payload, verbatim
	Text    string            `json:"text,omitempty"`     // a UTF-8 payload that is not JSON
	DataB64 string            `json:"data_b64,omitempty"` // any other payload, base64

	Retain bool `json:"retain,omitempty"`
}

// DecodeEnvelope parses a JSON envelope into a message (topic, header,
// payload, retain; id, cursor and time when present). It checks JSON syntax
// and the payload fields (at most one of data, text and data_b64), not the
// topic: call pubsub.ValidateTopic for that. Errors wrap ErrBadRequest.
func DecodeEnvelope(b []byte) (pubsub.Message, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return pubsub.Message{}, fmt.Errorf("%w: envelope: %v", ErrBadRequest, err)
	}
	data, err := wire.DecodeData(e.Data, e.Text, e.DataB64)
	if err != nil {
		return pubsub.Message{}, err
	}
	m := pubsub.Message{Topic: e.Topic, ID: e.ID, Cursor: e.Cursor, Header: e.Header, Data: data, Retain: e.Retain}
	if e.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, e.Time)
		if err != nil {
			return pubsub.Message{}, fmt.Errorf("%w: envelope time %s", ErrBadRequest, strconv.Quote(e.Time))
		}
		m.Time = t
	}
	return m, nil
}
