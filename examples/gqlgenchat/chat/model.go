package chat

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/pubsub"
)

// body is a chat message as stored on the broker (JSON).
type body struct {
	RoomID  string `json:"roomId"`
	Sender  string `json:"sender"`
	Content string `json:"content"`
}

// Message is the model of the GraphQL type Message (bound in gqlgen.yml):
// a chat message read from the broker, or the in-band error of a
// subscription stream. gqlgen resolves each field through the method of
// the same name; every method returns the stream error when there is one,
// so the client sees it whatever fields it selected (the graphqlsub/gqlgen
// adapter reports it once).
type Message struct {
	id     string
	body   body
	cursor string
	time   time.Time
	err    error // a *graphqlsub.StreamError, or why the payload did not decode
}

// messageFrom turns a broker message into a Message; a payload that is not
// a chat message is an error.
func messageFrom(m *pubsub.Message) (*Message, error) {
	var b body
	if err := json.Unmarshal(m.Data, &b); err != nil {
		return nil, fmt.Errorf("message %s on %s is not a chat message: %w", m.ID, m.Topic, err)
	}
	return &Message{id: m.ID, body: b, cursor: m.Cursor, time: m.Time}, nil
}

// fromEvent converts an event of graphqlsub.Stream.
func fromEvent(ev graphqlsub.Event) *Message {
	if ev.Err != nil {
		return &Message{err: ev.Err} // never a typed nil: ev.Err is checked
	}
	m, err := messageFrom(ev.Message)
	if err != nil {
		// Not silent: the event arrives with this error in place of its
		// fields, and the stream goes on.
		return &Message{err: err}
	}
	return m
}

// ID resolves Message.id.
func (m *Message) ID() (string, error) { return m.id, m.fail() }

// RoomID resolves Message.roomId.
func (m *Message) RoomID() (string, error) { return m.body.RoomID, m.fail() }

// Sender resolves Message.sender.
func (m *Message) Sender() (string, error) { return m.body.Sender, m.fail() }

// Content resolves Message.content.
func (m *Message) Content() (string, error) { return m.body.Content, m.fail() }

// Time resolves Message.time.
func (m *Message) Time() (string, error) {
	return m.time.UTC().Format(time.RFC3339Nano), m.fail()
}

// Cursor resolves Message.cursor.
func (m *Message) Cursor() (string, error) { return m.cursor, m.fail() }

// fail returns the event's error, if any.
func (m *Message) fail() error { return m.err }
